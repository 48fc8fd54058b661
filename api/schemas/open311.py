"""Response models of the GeoReport v2 (Open311) API in its JSON form.

First written from the answers the API test-suite receives, then named and reviewed. Every field is optional:
a service leaves some out in some answers, and ``response_model_exclude_unset`` keeps an answer's keys as the
service gave them; the base model also keeps any field not named here (see :mod:`api.schemas.base`)."""

from __future__ import annotations

from typing import Any

from api.schemas.base import Out


class CreatedServiceRequest(Out):
    service_request_id: str | None = None
    service_notice: str | None = None
    account_id: Any = None


class Endpoint(Out):
    specification: str | None = None
    url: str | None = None
    changeset: str | None = None
    type: str | None = None
    formats: list[str] | None = None


class DiscoveryOut(Out):
    changeset: str | None = None
    contact: str | None = None
    key_service: str | None = None
    endpoints: list[Endpoint] | None = None


class ServiceRequest(Out):
    service_request_id: str | None = None
    status: str | None = None
    status_notes: str | None = None
    service_name: str | None = None
    service_code: str | None = None
    description: str | None = None
    agency_responsible: str | None = None
    service_notice: str | None = None
    requested_datetime: str | None = None
    updated_datetime: str | None = None
    expected_datetime: str | None = None
    address: str | None = None
    address_id: Any = None
    zipcode: Any = None
    lat: float | None = None
    long: float | None = None
    media_url: Any = None


class ServiceDefinitionOut(Out):
    service_code: str | None = None
    attributes: list[Any] | None = None


class Service(Out):
    service_code: str | None = None
    service_name: str | None = None
    description: str | None = None
    metadata: bool | None = None
    type: str | None = None
    keywords: list[str] | None = None
    group: str | None = None
