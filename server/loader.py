"""Finding the function a call names, in a warm worker that outlives edits to the code.

Modules the worker imported stay imported between calls. Before each call the loader
checks whether any file of the user's modules changed (a stat per file, microseconds)
and, if one did, forgets every user module so the next import reads the new code: an
edited module is picked up on the next call without a restart. "User modules" are those
under the code root, minus any virtualenv that lives inside it and rhcli's own modules.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.util
import os
import pickle
import site
import sys
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from rhcli import on_cluster


class EntrypointMissing(Exception):
    """The entrypoint's module or attribute does not exist under the code root."""


class FunctionLoader:
    """Resolves entrypoints and pickled functions, reloading user modules that changed."""

    def __init__(self, code_root: str) -> None:
        self.code_root = os.path.realpath(code_root)
        self._prefix = self.code_root.rstrip(os.sep) + os.sep
        # A virtualenv inside the repository (.venv) is not user code: never track it.
        self._installed = tuple(
            p.rstrip(os.sep) + os.sep
            for p in {sys.prefix, sys.exec_prefix, *site.getsitepackages()}
        )
        self._mtimes: dict[str, tuple[str, int, int]] = {}  # module -> (file, mtime_ns, size)
        self._seen_modules = 0
        self._by_value: OrderedDict[bytes, Callable[..., Any]] = OrderedDict()
        # site-packages dir -> its mtime when last scanned for .pth files (see below).
        self._site_dirs: dict[str, int] = {}
        self._pth_done: set[str] = set()

    def load(self, *, entrypoint: str, pickled: bytes) -> Callable[..., Any]:
        """The function to call: unpickled (cached by content) or imported."""
        self._add_new_site_packages()
        self._forget_changed_modules()
        if pickled:
            return self._unpickle_function(pickled)
        try:
            return _import_entrypoint(entrypoint, self.code_root)
        finally:
            # Also when the attribute is missing: the module stays imported, and an edit
            # that adds the attribute must be seen by the next call.
            self._track_user_modules()

    def after_call(self) -> None:
        """Track the user modules the call imported, so their edits are seen too."""
        self._track_user_modules()

    def _unpickle_function(self, pickled: bytes) -> Callable[..., Any]:
        key = hashlib.sha1(pickled, usedforsecurity=False).digest()
        fn = self._by_value.get(key)
        if fn is None:
            fn = pickle.loads(pickled)
            self._by_value[key] = fn
            if len(self._by_value) > 64:
                self._by_value.popitem(last=False)
        return fn

    def _add_new_site_packages(self) -> None:
        """Apply .pth files that appeared in site-packages after this process started.

        A package installed while the worker process existed (reqs installed after Ray
        prestarted its workers) is often reached only through a .pth file: an editable
        install's path entry or import hook. Python reads those at startup only, so the
        worker would not find the package. A stat per site dir per call notices an
        install; each new .pth file is then applied once, as site would have.
        """
        for directory in site.getsitepackages():
            try:
                mtime = os.stat(directory).st_mtime_ns
            except OSError:
                continue
            if self._site_dirs.get(directory) == mtime:
                continue
            self._site_dirs[directory] = mtime
            try:
                names = sorted(n for n in os.listdir(directory) if n.endswith(".pth"))
            except OSError:
                continue
            added = False
            for name in names:
                path = os.path.join(directory, name)
                if path in self._pth_done:
                    continue
                self._pth_done.add(path)
                if _pth_applied(path):
                    continue
                site.addpackage(directory, name, None)  # type: ignore[attr-defined]
                added = True
            if added:
                importlib.invalidate_caches()

    def _track_user_modules(self) -> None:
        # Rescan only when modules were imported since the last scan: sys.modules is large.
        if len(sys.modules) == self._seen_modules:
            return
        for name, module in list(sys.modules.items()):
            path = getattr(module, "__file__", None)
            if (
                name in self._mtimes
                or not path
                or not path.startswith(self._prefix)
                or path.startswith(self._installed)
                # rhcli itself (under the code root when it is the repository an editable
                # install points at): never user code to forget, and a stat per module
                # of it on every call
                or name == "rhcli"
                or name.startswith("rhcli.")
            ):
                continue
            try:
                st = os.stat(path)
            except OSError:
                continue
            self._mtimes[name] = (path, st.st_mtime_ns, st.st_size)
        self._seen_modules = len(sys.modules)

    def _forget_changed_modules(self) -> None:
        changed = [
            path for path, mtime, size in self._mtimes.values() if _changed(path, mtime, size)
        ]
        if not changed:
            return
        for path in changed:
            # Python's bytecode cache trusts a source whose mtime (in whole seconds) and
            # size match: an edit that keeps both would run the old code from the cache.
            with contextlib.suppress(OSError, ValueError):
                os.unlink(importlib.util.cache_from_source(path))
        # One module changed: forget them all, since other user modules hold references
        # into it; reloading just the one would leave them pointing at the old code.
        for name in self._mtimes:
            sys.modules.pop(name, None)
        self._mtimes.clear()
        self._seen_modules = 0
        importlib.invalidate_caches()


def _pth_applied(path: str) -> bool:
    """Whether this process already applied the .pth file at path (at startup)."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = [line.strip() for line in f]
    except (OSError, UnicodeDecodeError):
        return True  # unreadable: site skipped it too
    for line in lines:
        if not line or line.startswith("#"):
            continue
        if line.startswith(("import ", "import\t")):
            # `import mod; mod.install()`: applied when mod was imported.
            module = line.split(None, 1)[1].split(";")[0].split(",")[0].strip()
            if module.split(".")[0] not in sys.modules:
                return False
            continue
        entry = os.path.realpath(os.path.join(os.path.dirname(path), line))
        if os.path.exists(entry) and entry not in {os.path.realpath(p) for p in sys.path}:
            return False
    return True


def _changed(path: str, mtime_ns: int, size: int) -> bool:
    try:
        st = os.stat(path)
    except OSError:  # deleted or moved: changed too
        return True
    return st.st_mtime_ns != mtime_ns or st.st_size != size


def _import_entrypoint(entrypoint: str, code_root: str) -> Callable[..., Any]:
    module_name, _, qualname = entrypoint.partition(":")
    try:
        with on_cluster.importing_module(module_name):
            module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if missing and (module_name == missing or module_name.startswith(missing + ".")):
            raise EntrypointMissing(
                f"no module named {module_name!r} under {code_root} "
                f"(entrypoint {entrypoint!r}); check the path and that the file is in the repo"
            ) from None
        # The module is there but imports a package the cluster lacks: a setup problem
        # that rerunning cannot fix, told as such (exit 2), with where the import is.
        raise EntrypointMissing(
            f"module {module_name!r} imports {missing or exc.msg!r}{_import_site(exc)}, "
            "which is not installed on the cluster; add it to the function's reqs "
            "(or requirements.txt) and run `rhcli install`"
        ) from None
    obj: Any = module
    for part in qualname.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            known = sorted(
                name
                for name, value in vars(module).items()
                if callable(value)
                and not name.startswith("_")
                and getattr(value, "__module__", None) == module.__name__
            )
            raise EntrypointMissing(
                f"module {module_name!r} has no attribute {qualname!r}; "
                f"it defines: {', '.join(known) or 'no public functions'}"
            ) from None
    if not callable(obj):
        raise EntrypointMissing(f"{entrypoint!r} is a {type(obj).__name__}, not a function")
    return obj  # type: ignore[no-any-return]


def _import_site(exc: BaseException) -> str:
    """Where the failed import statement is: " (at FILE, line N)", the innermost frame
    outside the import machinery; "" when there is none."""
    site = ""
    tb = exc.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if not filename.startswith("<frozen ") and filename != __file__:
            site = f" (at {filename}, line {tb.tb_lineno})"
        tb = tb.tb_next
    return site
