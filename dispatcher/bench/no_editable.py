"""Python source that a `--compare` base's process runs before its first import: it drops
the editable install's import hooks (site-packages' `__editable__*.pth` adds a finder that
maps `dispatcher`, `schemas` and `streams` to this checkout), so a module the base's tree
lacks raises ImportError instead of silently coming from this checkout.

Source text, not a function: the child must not import anything of ours to get it."""

DROP_EDITABLE_FINDERS = """
import sys
def _editable(hook):
    return str(getattr(hook, "__module__", None) or type(hook).__module__).startswith(
        "__editable__"
    )
sys.meta_path[:] = [f for f in sys.meta_path if not _editable(f)]
sys.path_hooks[:] = [h for h in sys.path_hooks if not _editable(h)]
sys.path[:] = [p for p in sys.path if "__editable__" not in p]
sys.path_importer_cache.clear()
del _editable
"""
