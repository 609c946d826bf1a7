"""Errors records raises to its callers; messages carry reasons, never health data or URLs."""


class RecordsError(Exception):
    """Base of every error records raises on purpose."""


class BundleDownloadError(RecordsError):
    """A bundle could not be fetched or read. `transient` says whether trying again may help."""

    def __init__(self, reason: str, *, transient: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.transient = transient


class BundleLinkExpired(BundleDownloadError):
    """The link answered 403/410 or its signature has expired: ask the network for the data again."""

    def __init__(self, reason: str = "link expired") -> None:
        super().__init__(reason, transient=False)


class BundleInvalid(BundleDownloadError):
    """The bytes fetched are not a FHIR Bundle we can read."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, transient=False)


class BundleForAnotherPatient(BundleDownloadError):
    """The bundle's Patient is not the person it was fetched for (or it names no Patient at all)."""

    def __init__(self, reason: str = "the bundle's Patient is another patient, not this person") -> None:
        super().__init__(reason, transient=False)


class BundleSuperseded(RecordsError):
    """A newer copy of the whole record is waiting, or one at least as new is saved: saving this one would
    be work thrown away."""

    def __init__(self) -> None:
        super().__init__("a newer bundle is waiting to be saved")
