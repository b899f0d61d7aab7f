"""What can go wrong in the domain, free of HTTP (the API maps each class to a status once).

ModelregError
├── InvalidArgument      the request is malformed or makes no sense
│   └── MissingField     a required field is absent or empty
├── NotFound             no such entity (or not of that kind)
├── AlreadyExists        a name or externalId is taken
├── Conflict             the change is refused in the entity's present state
└── Unavailable          the database cannot be reached
"""


class ModelregError(Exception):
    """Base of every error the service layer raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidArgument(ModelregError):
    pass


class MissingField(InvalidArgument):
    pass


class NotFound(ModelregError):
    pass


class AlreadyExists(ModelregError):
    pass


class Conflict(ModelregError):
    pass


class Unauthenticated(ModelregError):
    pass


class Forbidden(ModelregError):
    pass


class Unavailable(ModelregError):
    pass
