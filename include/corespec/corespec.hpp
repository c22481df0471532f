// corespec/corespec.hpp - umbrella header: the core, the grid and the readers.
//
// It deliberately leaves out the heavy or optional parts, which you include
// yourself when you need them:
//   corespec/nn/...        the network engine (xsimd kernels) and training (nn/train)
//   corespec/explain/...   attribution per energy bin (built on nn)
//   corespec/prep/..., corespec/align/...  preprocessing (Eigen for fits and FFT)
//   corespec/steps/...     steps and recipes over prep/align/grid (Eigen, nlohmann-json)
//   corespec/synth/...     synthetic spectra for examples and tests
#pragma once

#include "corespec/core/checks.hpp"
#include "corespec/core/error.hpp"
#include "corespec/core/parallel.hpp"
#include "corespec/core/span.hpp"
#include "corespec/core/status.hpp"
#include "corespec/core/version.hpp"
#include "corespec/fusion/feature_layout.hpp"
#include "corespec/grid/energy_axis.hpp"
#include "corespec/grid/metadata.hpp"
#include "corespec/grid/relative_axis.hpp"
#include "corespec/grid/resample.hpp"
#include "corespec/grid/spectrum.hpp"
#include "corespec/grid/spectrum_image.hpp"
#include "corespec/io/columns.hpp"
#include "corespec/io/dm.hpp"
#include "corespec/io/dm_tags.hpp"
#include "corespec/io/dm_write.hpp"
#include "corespec/io/file_info.hpp"
#include "corespec/io/read.hpp"  // every reader: MSA, XDI, columns, JSON, NPY, Athena, DM
