"""Process start-up: TensorFlow loaded quietly, worker processes tied to their parent.

Stdlib only: a spawned worker imports this before anything loads TensorFlow.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile

# TensorFlow's start-up lines on a machine without an NVIDIA GPU: CUDA libraries
# and drivers not found (one at error level), CPU instruction sets, oneDNN. None
# is actionable there; they are filtered from a CPU-only machine's stderr.
_STARTUP_NOISE = re.compile(
    r"cudart_stub|cuda_platform|cuda_executor|cuda_diagnostics|cuInit|cuda drivers|"
    r"cpu_feature_guard|All log messages before absl::InitializeLog|"
    r"To enable the following instructions|rebuild TensorFlow with the appropriate|"
    r"oneDNN custom operations|Unable to register cu(DNN|FFT|BLAS) factory|"
    r"computation_placer|TF-TRT Warning|Could not find TensorRT")


def has_nvidia_gpu() -> bool:
  return os.path.exists("/dev/nvidiactl") or os.path.exists("/proc/driver/nvidia")


class _QuietLoader:
  """Runs TensorFlow's own loader with stderr read back (see `quiet_tensorflow`)."""

  def __init__(self, loader):
    self.loader = loader

  def create_module(self, spec):
    return self.loader.create_module(spec)

  def __getattr__(self, name):  # The rest of the loader's protocol (resources ...).
    return getattr(self.loader, name)

  def exec_module(self, module):
    with _filtered_stderr():
      self.loader.exec_module(module)
      module.config.list_physical_devices()


class _QuietFinder:
  """On a CPU-only machine, finds `tensorflow` the first time it is imported and
  loads it quietly; then steps aside."""

  @classmethod
  def find_spec(cls, name, path=None, target=None):
    if name != "tensorflow":
      return None
    sys.meta_path.remove(cls)
    import importlib.machinery

    spec = importlib.machinery.PathFinder.find_spec(name, path)
    if spec is not None and spec.loader is not None:
      spec.loader = _QuietLoader(spec.loader)
    return spec


def quiet_tensorflow_on_import() -> None:
  """`quiet_tensorflow`, deferred to TensorFlow's first import: a command that
  stops at a bad flag or option before it needs TensorFlow does not pay its
  seconds of loading. Entry points call this first."""
  if "tensorflow" in sys.modules or _QuietFinder in sys.meta_path:
    return
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
  if not has_nvidia_gpu():
    sys.meta_path.insert(0, _QuietFinder)


def quiet_tensorflow() -> None:
  """Loads TensorFlow without its start-up noise on a CPU-only machine.

  Entry points and notebooks call this first. Informational C++ logs are off
  (TF_CPP_MIN_LOG_LEVEL=1 unless set); on a machine without an NVIDIA GPU the
  lines TensorFlow writes while loading and looking for devices are read back
  and every line that is not known start-up noise is passed on. With a GPU
  nothing is filtered: there the CUDA lines say something.
  """
  if "tensorflow" in sys.modules:
    return
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
  if has_nvidia_gpu():
    import tensorflow  # noqa: F401
    return
  with _filtered_stderr():
    import tensorflow as tf

    tf.config.list_physical_devices()


@contextlib.contextmanager
def _filtered_stderr():
  """Reads back what is written to file descriptor 2 inside, and passes on every
  line that is not known start-up noise."""
  sys.stderr.flush()
  saved = os.dup(2)
  with tempfile.TemporaryFile() as capture:
    os.dup2(capture.fileno(), 2)
    try:
      yield
    finally:
      os.dup2(saved, 2)
      os.close(saved)
      capture.seek(0)
      kept = [line for line in capture.read().decode(errors="replace").splitlines()
              if line.strip() and not _STARTUP_NOISE.search(line)]
      if kept:
        print("\n".join(kept), file=sys.stderr)


# Run by `dying_with_parent` in a fresh interpreter, in the child after exec:
# PR_SET_PDEATHSIG (1) with SIGKILL (9), then the command.
_LAUNCHER = ("import ctypes, os, sys\n"
             "ctypes.CDLL(None).prctl(1, 9)\n"
             "if os.getppid() != int(sys.argv[1]):\n"
             "  os._exit(1)  # The parent died before the request took effect.\n"
             "os.execvp(sys.argv[2], sys.argv[2:])\n")


def dying_with_parent(argv: list[str]) -> list[str]:
  """`argv` as a command killed when the thread that starts it ends, its process
  killed or not (Linux; elsewhere `argv` unchanged).

  The request is made by a small launcher after exec, not by a `preexec_fn`. For
  a `preexec_fn`, Python must fork() the whole parent and run Python code in the
  child before exec, which can deadlock when other threads hold locks (gRPC's, in
  a Beam driver: its fork handlers are known to hang `subprocess.Popen`); without
  one, `subprocess` starts the child with vfork and exec, and no handler runs.
  """
  if not sys.platform.startswith("linux"):
    return list(argv)
  return [sys.executable, "-S", "-E", "-c", _LAUNCHER, str(os.getpid()), *argv]


def worker_start(parent: int) -> None:
  """Initializer of worker processes: killed when `parent` dies, and TensorFlow
  loaded as quietly as in the parent.

  Without the first, a worker of a build killed with SIGKILL goes on writing its
  shard (hundreds of MB) for minutes, an orphan.
  """
  import ctypes
  import signal

  if sys.platform.startswith("linux"):
    pr_set_pdeathsig = 1
    ctypes.CDLL(None).prctl(pr_set_pdeathsig, int(signal.SIGKILL))
  if os.getppid() != parent:  # The parent died before the request took effect.
    os._exit(1)
  quiet_tensorflow()
