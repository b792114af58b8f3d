"""Turn a tab's raw grid into a typed cases DataFrame plus a list of Problems with cell addresses."""

from .build import CaseFrame, build_frame

__all__ = ["CaseFrame", "build_frame"]
