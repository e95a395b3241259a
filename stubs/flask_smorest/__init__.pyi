# flask-smorest ships no types. Its `abort` is webargs' (typed: it never returns), which is what
# the console's handlers need known; the rest of the package stays untyped.
from typing import Any

from webargs.flaskparser import abort as abort

def __getattr__(name: str) -> Any: ...
