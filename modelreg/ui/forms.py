"""Form checking for the register forms: every problem is kept beside its field."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlencode, urlsplit

from modelreg.entities.values import CustomProperties, PropertyValue

NAME_MAX = 128
LOCATION_KINDS = ("object-storage", "uri", "upload")


@dataclass
class Checked:
    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)

    def need(self, key: str, label: str, limit: int = NAME_MAX) -> str:
        value = self.values.get(key, "").strip()
        if not value:
            self.errors[key] = f"{label} is required."
        elif len(value) > limit:
            self.errors[key] = f"{label} is at most {limit} characters; this one is {len(value)}."
        return value

    def optional(self, key: str, label: str, limit: int = 4000) -> str:
        value = self.values.get(key, "").strip()
        if len(value) > limit:
            self.errors[key] = f"{label} is at most {limit} characters."
        return value


def object_storage_uri(endpoint: str, bucket: str, region: str, path: str) -> str:
    """The URI upstream's UI builds from object storage fields."""
    query = {"endpoint": endpoint}
    if region:
        query["defaultRegion"] = region
    return f"s3://{bucket}/{path.strip('/')}?{urlencode(query)}"


def object_storage_fields(uri: str | None) -> dict[str, str] | None:
    """The object storage fields of an s3:// URI, or None if it is not one."""
    if not uri or not uri.startswith("s3://"):
        return None
    parts = urlsplit(uri)
    q = {k: v[0] for k, v in parse_qs(parts.query).items()}
    return {
        "endpoint": q.get("endpoint", ""),
        "bucket": parts.netloc,
        "region": q.get("defaultRegion", ""),
        "path": parts.path.lstrip("/"),
    }


def check_location(c: Checked) -> str | None:
    """The artifact URI the form names (None for an upload); errors go beside the fields."""
    kind = c.values.get("location", "object-storage")
    if kind not in LOCATION_KINDS:
        c.errors["location"] = "Choose object storage, a URI or an upload."
        return None
    if kind == "upload":
        return None
    if kind == "uri":
        uri = c.need("uri", "URI", 4000)
        if uri and "://" not in uri:
            c.errors["uri"] = (
                "A URI names its scheme, e.g. s3://bucket/path, oci://registry/repo:tag or https://…"
            )
        return uri
    endpoint = c.need("endpoint", "Endpoint", 2000)
    bucket = c.need("bucket", "Bucket", 255)
    region = c.optional("region", "Region", 100)
    path = c.need("path", "Path", 2000)
    if endpoint and "://" not in endpoint:
        c.errors["endpoint"] = "An endpoint is a URL, e.g. https://s3.example.com."
    if bucket and ("/" in bucket or " " in bucket):
        c.errors["bucket"] = "A bucket name has no '/' or spaces."
    if path and not path.strip("/"):
        c.errors["path"] = "The path must name a model file or folder, not the bucket's root."
    return object_storage_uri(endpoint, bucket, region, path)


def labels_of(props: CustomProperties) -> list[str]:
    return sorted(k for k, v in props.items() if v.type == "string" and v.value == "")


def plain_properties(props: CustomProperties) -> list[tuple[str, str, str]]:
    """(key, shown value, type) of the properties that are not labels."""
    out: list[tuple[str, str, str]] = []
    for k, v in sorted(props.items()):
        if v.type == "string" and v.value == "":
            continue
        out.append((k, str(v.value), v.type))
    return out


def parse_labels(text: str) -> tuple[list[str], str | None]:
    labels = [s.strip() for s in text.replace("\n", ",").split(",") if s.strip()]
    for label in labels:
        if len(label) > NAME_MAX:
            return labels, f"A label is at most {NAME_MAX} characters: {label[:20]}… is longer."
    return sorted(set(labels)), None


def with_labels(props: CustomProperties, labels: list[str]) -> CustomProperties:
    kept = {k: v for k, v in props.items() if not (v.type == "string" and v.value == "")}
    for label in labels:
        if label in kept:
            continue
        kept[label] = PropertyValue("string", "")
    return kept


def typed_value(text: str, like: PropertyValue | None) -> PropertyValue:
    """The value typed, kept in the type the property had if it still parses as one."""
    if like is not None:
        try:
            if like.type == "int":
                return PropertyValue("int", int(text))
            if like.type == "double":
                return PropertyValue("double", float(text))
            if like.type == "bool" and text.lower() in ("true", "false"):
                return PropertyValue("bool", text.lower() == "true")
        except ValueError:
            pass
    return PropertyValue("string", text)
