"""extractor: LLM-assisted stance and claim extraction for news, grounded to character offsets."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("extractor")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0+source"
