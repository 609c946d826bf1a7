"""A file storage that encrypts everything it writes (raw webhook bodies, downloaded bundles)."""

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage

from accounts.crypto import decrypt_bytes, encrypt_bytes


class EncryptedFileSystemStorage(FileSystemStorage):
    """Files are Fernet tokens on disk; `open()` gives back the plaintext after its integrity check."""

    def _save(self, name, content):  # type: ignore[misc]  # django-stubs omit FileSystemStorage._save
        content.seek(0)
        return super()._save(name, ContentFile(encrypt_bytes(content.read())))  # type: ignore[misc]  # as above

    def _open(self, name, mode="rb"):  # type: ignore[misc]  # django-stubs omit FileSystemStorage._open
        with super()._open(name, "rb") as handle:  # type: ignore[misc]  # as above
            return ContentFile(decrypt_bytes(handle.read()), name=name)

    def size_plaintext(self, name: str) -> int:
        with self.open(name) as handle:
            return len(handle.read())


def private_storage() -> EncryptedFileSystemStorage:
    return EncryptedFileSystemStorage(location=settings.PRIVATE_STORAGE_ROOT, base_url=None)
