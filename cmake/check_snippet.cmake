# cmake -DREADME=... -DSNIPPET=... -P check_snippet.cmake
# Fails unless the body of SNIPPET (from its first #include on) appears verbatim in README.
file(READ "${SNIPPET}" _snippet)
file(READ "${README}" _readme)
string(FIND "${_snippet}" "#include" _start)
string(SUBSTRING "${_snippet}" ${_start} -1 _body)
string(FIND "${_readme}" "${_body}" _found)
if(_found EQUAL -1)
  message(FATAL_ERROR "${README} does not show ${SNIPPET} verbatim (from its first #include); update the README")
endif()
