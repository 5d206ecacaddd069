"""One kernel for all of a run's notebooks: started once (on Unix sockets, its own output into a log file
rather than the operator's terminal), reset between notebooks so that none can lean on another's
variables (as each must stand alone in JupyterLab), and moved into each notebook's folder.

Starting a kernel and importing the runbook, the Docker SDK and IPython's display in it cost more than
most steps' checks: a run pays that once, not once per notebook. One client talks to it for the whole
run; nbclient and nbformat (a second's import) are imported while the kernel starts.
"""

from __future__ import annotations

import ast
import contextlib
import json
import subprocess
import threading
import time
from pathlib import Path

from jupyter_client.manager import KernelManager
from traitlets.config import Config

from .errors import RecordNotWritten, RunSetupError
from .i18n import _

KERNEL = "python3"


def load(path: Path):
    """A notebook as nbformat reads it, lines joined, without its schema validation: these are the
    runbook's own notebooks, read on every run."""
    import nbformat
    from nbformat.v4.rwbase import rejoin_lines

    return rejoin_lines(nbformat.from_dict(json.loads(path.read_text(encoding="utf-8"))))


def parameters_cell(nb) -> int:
    """The index of the cell tagged ``parameters``; -1 when there is none."""
    return next((i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])), -1)


def declared(nb) -> set[str]:
    """The names the notebook's parameters cell assigns: the parameters it takes."""
    i = parameters_cell(nb)
    if i < 0:
        return set()
    tree = ast.parse(nb.cells[i].source)
    return {t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets if isinstance(t, ast.Name)}


def parameterize(nb, parameters: dict):
    """Inject ``parameters`` as papermill does: a code cell tagged ``injected-parameters`` after the
    parameters cell (each value as its Python literal), and the values in ``metadata.papermill``."""
    import nbformat

    source = "# Parameters\n" + "".join(f"{name} = {value!r}\n" for name, value in parameters.items())
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["tags"] = ["injected-parameters"]
    nb.cells.insert(parameters_cell(nb) + 1, cell)
    nb.metadata["papermill"] = {"parameters": dict(parameters)}
    return nb


class SharedKernel:
    def __init__(self, scratch: Path, cwd: Path):
        self.scratch, self.cwd = scratch, cwd
        config = Config({"KernelManager": {"transport": "ipc", "ip": str(scratch / "kernel")}})
        self.km = KernelManager(kernel_name=KERNEL, config=config)
        self.kc = None
        self.busy: threading.Thread | None = None  # the thread running a notebook, if one still does
        self.log = open(scratch / "kernel.log", "wb")  # noqa: SIM115 (open while the kernel runs)

    def __enter__(self) -> SharedKernel:
        self.km.start_kernel(cwd=str(self.cwd), stdout=self.log, stderr=self.log)
        import nbclient  # noqa: F401 (while the kernel starts)

        try:
            self.kc = self._connect()
        except RuntimeError as e:
            self.__exit__(type(e), e, None)
            raise RunSetupError(
                _("the notebooks' kernel did not start: {error}").format(error=e),
                remediation=_("Read {log}; check that ipykernel is installed.").format(log=self.scratch / "kernel.log"),
            ) from None
        return self

    def _connect(self):
        """A client to the kernel once it answers on both channels. jupyter_client's wait_for_ready then
        also waits for a fifth of a second of silence on IOPub, which a run need not pay: nbclient reads
        only the messages of its own requests."""
        from queue import Empty

        kc = self.km.client()
        kc.start_channels()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            kc.kernel_info()
            try:
                reply = kc.shell_channel.get_msg(timeout=1)
                if reply["msg_type"] == "kernel_info_reply":
                    kc.iopub_channel.get_msg(timeout=0.2)  # IOPub connected: the request's status came
                    return kc
            except Empty:
                pass
            if not self.km.is_alive():
                raise RuntimeError("the kernel died before it answered")
        raise RuntimeError("the kernel did not answer within 120 s")

    def __exit__(self, *exc) -> None:
        if self.kc is not None and (self.busy is None or not self.busy.is_alive()):
            self.kc.stop_channels()  # (a notebook's thread stuck on a killed kernel keeps them: it is a daemon)
        if self.km.has_kernel:
            # stopped, not asked to stop: every cell has run and its outputs are in, and a polite shutdown
            # is a fifth of a second of polling for a kernel that holds nothing to save. Killed and reaped
            # here first: jupyter_client's own kill polls the process every tenth of a second
            process = getattr(self.km.provisioner, "process", None)
            if process is not None:
                with contextlib.suppress(OSError, subprocess.TimeoutExpired):
                    process.kill()
                    process.wait(5)
            self.km.shutdown_kernel(now=True)
        self.log.close()

    def run(self, source: Path, target: Path, parameters: dict, cwd: Path) -> str:
        """Execute ``source`` with those of ``parameters`` its parameters cell declares (injected as
        papermill does, in a cell tagged injected-parameters) in a fresh namespace with ``cwd`` as its
        folder, and write it to ``target``, also when a cell failed. Returns '' or the error a cell stopped
        on ('NameError: …')."""
        import nbformat
        from nbclient import NotebookClient
        from nbclient.exceptions import CellExecutionError

        nb = load(source)
        takes = declared(nb)
        nb = parameterize(nb, {k: v for k, v in parameters.items() if k in takes})
        folder = str(Path(cwd).absolute())
        reset = nbformat.v4.new_code_cell(
            f"get_ipython().run_line_magic('reset', '-f -s')\nimport os as _os\n_os.chdir({folder!r})\ndel _os"
        )
        # run first, left out of the record; a soft reset: the names go, without the hard reset's
        # collection of the whole heap (a fifth of a second per notebook)
        nb.cells.insert(0, reset)
        client = NotebookClient(nb, km=self.km, kernel_name=KERNEL, timeout=None, allow_errors=False)
        client.kc = self.kc  # the run's client (the constructor takes none: it would start one per notebook)

        outcome: dict = {}

        def execute() -> None:  # in a thread of its own: nbclient then leaves the process's signals alone
            try:
                client.execute(cleanup_kc=False)
            except CellExecutionError as e:
                outcome["error"] = f"{e.ename}: {e.evalue}"
            except BaseException as e:  # noqa: BLE001 (handed to the caller's thread)
                outcome["raised"] = e

        self.busy = threading.Thread(target=execute, daemon=True)
        self.busy.start()
        try:
            while self.busy.is_alive():
                self.busy.join(0.2)
        except KeyboardInterrupt:  # Ctrl-C or SIGTERM: the kernel is stopped where it is
            self.km.shutdown_kernel(now=True)
            self.busy.join(30)
            raise
        finally:
            if not reset.get("outputs"):  # a reset that failed (its folder gone) stays, with its error
                nb.cells.remove(reset)
            data = (json.dumps(nb, indent=1, ensure_ascii=False) + "\n").encode()
            try:
                target.write_bytes(data)
            except OSError as e:  # a full or read-only disk
                raise RecordNotWritten(target.parent, target.name, e, len(data)) from None
        if "raised" in outcome:
            raise outcome["raised"]
        return outcome.get("error", "")
