"""Progress bars for parana's long calls: tqdm when it is importable (in
Jupyter its notebook bar), else one line on stderr rewritten in place."""

import sys
import time


class Bar:
    """A callable ``(done, total, msg)`` the native module reports to."""

    def __init__(self, desc):
        self.desc = desc
        self._tqdm = None
        self._last = 0.0
        try:
            from tqdm.auto import tqdm

            self._tqdm = tqdm(total=0, desc=desc, leave=False)
        except ImportError:
            pass

    def __call__(self, done, total, msg):
        if self._tqdm is not None:
            if self._tqdm.total != total:
                self._tqdm.total = total
            self._tqdm.n = done
            self._tqdm.set_postfix_str(msg, refresh=False)
            self._tqdm.refresh()
            return
        now = time.monotonic()
        if now - self._last < 0.2 and done != total:
            return
        self._last = now
        sys.stderr.write(f"\r{self.desc}: {done}/{total} {msg}"[:120].ljust(120))
        sys.stderr.flush()

    def close(self):
        if self._tqdm is not None:
            self._tqdm.close()
        elif self._last:
            sys.stderr.write("\r" + " " * 120 + "\r")
            sys.stderr.flush()


class _Off:
    """No bar: false, so that the native module is handed no callback."""

    def __bool__(self):
        return False

    def close(self):
        pass


def bar(progress, desc):
    """A progress bar when ``progress`` is true, else one that shows nothing."""
    return Bar(desc) if progress else _Off()
