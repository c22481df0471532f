"""Renders a corespec report folder in headless Chromium and checks that
every figure is drawn and that the page makes no network request.

    python3 check_report.py CHROMIUM REPORT_DIR

Page loads, each with a network log (--log-net-log) and every host name
resolving nowhere (--host-resolver-rules), so a request would fail and be
logged, never leave the machine:
  1. report.html as written: the only URL loaded is the file itself;
  2. a probe copy with the Content-Security-Policy removed (so that markup
     which would fetch something really tries) and a script appended that
     measures every <svg> (rendered box, drawn content's bounding box,
     element count) and writes the numbers into the DOM, which --dump-dom
     prints after load. Again the page may request nothing;
  3. a canary page with an <img> from the network: its request must be seen
     in the log, or the check above proves nothing.
Exit code 0 on success, 1 on a failed check, 77 when Chromium is missing.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

PROBE = """<script>
window.addEventListener('load', function () {
  var out = [];
  document.querySelectorAll('svg').forEach(function (s) {
    var r = s.getBoundingClientRect(), b = s.getBBox();
    out.push({fig: s.parentElement.id, w: r.width, h: r.height, bw: b.width, bh: b.height,
              elements: s.querySelectorAll('*').length});
  });
  var pre = document.createElement('pre');
  pre.id = 'corespec-probe';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>
"""


def fail(msg):
    print("check_report: FAIL: " + msg)
    sys.exit(1)


def run_chromium(chromium, page, work, tag):
    netlog = os.path.join(work, tag + "_netlog.json")
    args = [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
            "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-extensions",
            "--disable-default-apps", "--metrics-recording-only", "--user-data-dir=" + os.path.join(work, tag + "_profile"),
            "--host-resolver-rules=MAP * ~NOTFOUND", "--log-net-log=" + netlog, "--net-log-capture-mode=Everything",
            "--window-size=1200,900", "--virtual-time-budget=3000", "--dump-dom", "file://" + page]
    try:
        p = subprocess.run(args, capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        fail("chromium did not finish within 60 s (" + tag + ")")
    if p.returncode != 0:
        fail("chromium exited with %d (%s): %s" % (p.returncode, tag, p.stderr[-2000:]))
    return p.stdout, netlog


def page_requests(path):
    """URLs of the requests a page made, from a net log: URL_REQUEST sources
    whose initiator is an origin (a file:// page is the opaque origin
    "null"); Chromium's own background fetches (update checks, network time,
    dictionaries) have initiator "not an origin" and are not the page's."""
    with open(path) as f:
        text = f.read()
    try:
        log = json.loads(text)
    except ValueError:  # a log cut short at exit lacks its closing brackets
        log = json.loads(text.rstrip().rstrip(",") + "]}")
    types = {v: k for k, v in log["constants"]["logEventTypes"].items()}
    page, browser = set(), set()
    for e in log.get("events", []):
        params = e.get("params") or {}
        if types.get(e["type"]) == "URL_REQUEST_START_JOB" and "url" in params:
            (browser if params.get("initiator") == "not an origin" else page).add(params["url"])
    return sorted(page), sorted(browser)


def check_network(netlog, tag):
    page, browser = page_requests(netlog)
    if page:
        fail("%s: the page requested %s" % (tag, ", ".join(page)))
    return len(browser)


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    chromium, report_dir = sys.argv[1], os.path.abspath(sys.argv[2])
    if not shutil.which(chromium):
        print("check_report: SKIP: chromium not found (apt-get install chromium)")
        return 77
    page = os.path.join(report_dir, "report.html")
    if not os.path.isfile(page):
        fail("no report.html in " + report_dir)
    with open(page, encoding="utf-8") as f:
        html = f.read()
    figures = sorted(n[:-4] for n in os.listdir(os.path.join(report_dir, "figures")) if n.endswith(".svg"))
    if not figures:
        fail("no figures/*.svg")

    work = tempfile.mkdtemp(prefix="corespec_browser_")
    try:
        # 1. The report as written.
        dom, netlog = run_chromium(chromium, page, work, "report")
        if dom.count("<svg") != len(figures):
            fail("report.html: %d <svg> in the rendered DOM, %d figure files" % (dom.count("<svg"), len(figures)))
        internal = check_network(netlog, "report.html")

        # 2. The probe copy: no CSP, a measuring script.
        csp = re.compile(r'<meta http-equiv="Content-Security-Policy"[^>]*>')
        if not csp.search(html):
            fail("report.html has no Content-Security-Policy meta")
        probe_page = os.path.join(work, "probe.html")
        with open(probe_page, "w", encoding="utf-8") as f:
            f.write(csp.sub("", html).replace("</body>", PROBE + "</body>"))
        dom, netlog = run_chromium(chromium, probe_page, work, "probe")
        m = re.search(r'<pre id="corespec-probe">(.*?)</pre>', dom, re.S)
        if not m:
            fail("the probe script did not run")
        boxes = json.loads(m.group(1).replace("&quot;", '"').replace("&amp;", "&"))
        drawn = sorted(b["fig"][len("fig-"):] for b in boxes)
        if drawn != figures:
            fail("figures in the page %s != figure files %s" % (drawn, figures))
        for b in boxes:
            if not (b["w"] > 50 and b["h"] > 30 and b["bw"] > 50 and b["bh"] > 30 and b["elements"] >= 5):
                fail("figure %s is not drawn: %s" % (b["fig"], b))
        internal += check_network(netlog, "probe copy without CSP")

        # 3. The trap itself: a canary page that does fetch must be caught.
        canary = os.path.join(work, "canary.html")
        with open(canary, "w") as f:
            f.write('<!DOCTYPE html><html><body><img src="http://corespec-canary.invalid/x.png"></body></html>')
        _, netlog = run_chromium(chromium, canary, work, "canary")
        if not any("corespec-canary" in u for u in page_requests(netlog)[0]):
            fail("the network check missed the canary page's request: it cannot be trusted")
        print("check_report: OK: %d figures drawn (%s); the page made no request (with and without its CSP; "
              "the canary's was caught; %d of Chromium's own background requests ignored)" %
              (len(boxes), ", ".join("%s %dx%d" % (b["fig"], b["w"], b["h"]) for b in boxes), internal))
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
