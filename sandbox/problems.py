"""RFC 7807 problems, the way the network reports every error."""

from django.http import JsonResponse

TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
NAMES = {
    400: "BadRequestError",
    401: "UnauthorizedError",
    403: "ForbiddenError",
    404: "NotFoundError",
    405: "MethodNotAllowedError",
    409: "ConflictError",
    429: "TooManyRequestsError",
    500: "InternalServerError",
    503: "ServiceUnavailableError",
}


class Problem(Exception):
    """Raised anywhere in the API to answer with an RFC 7807 body; `field` names the bad input."""

    def __init__(self, status: int, detail: str, *, field: str | None = None, headers: dict | None = None):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.field = field
        self.headers = headers or {}

    def response(self) -> JsonResponse:
        body = {
            "status": self.status,
            "name": NAMES.get(self.status, "Error"),
            "title": TITLES.get(self.status, "Error"),
            "detail": self.detail,
        }
        if self.field:
            body["field"] = self.field
            body["invalidParams"] = [{"name": self.field, "reason": self.detail}]
        response = JsonResponse(body, status=self.status, content_type="application/problem+json")
        for key, value in self.headers.items():
            response[key] = value
        return response


def bad(field: str, detail: str) -> Problem:
    return Problem(400, detail, field=field)


def not_found(what: str) -> Problem:
    return Problem(404, f"{what} not found")
