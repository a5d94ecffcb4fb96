"""How every Kafka client of ours connects: security protocol, SASL user and the CA, from
the settings, for aiokafka's clients (`client_options`); Faust gets the same as its
`broker_credentials` (streams/app.py). One place, so the API, the worker and the
maintenance commands cannot disagree (deploy/k8s/kafka-strimzi.yaml: a TLS listener with
SCRAM-SHA-512 and ACLs per user)."""

from __future__ import annotations

import ssl
from typing import Any

from dispatcher.settings import Settings


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """Server verification (hostname too) against the configured CA; None without TLS."""
    if settings.kafka_security_protocol not in ("SSL", "SASL_SSL"):
        return None
    cafile = str(settings.kafka_ca_file) if settings.kafka_ca_file else None
    return ssl.create_default_context(cafile=cafile)


def client_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for AIOKafkaProducer / AIOKafkaConsumer / AIOKafkaAdminClient."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap,
        "security_protocol": settings.kafka_security_protocol,
    }
    context = ssl_context(settings)
    if context is not None:
        options["ssl_context"] = context
    if settings.kafka_security_protocol.startswith("SASL_"):
        assert settings.kafka_sasl_password is not None  # Settings refuses it otherwise
        options |= {
            "sasl_mechanism": settings.kafka_sasl_mechanism,
            "sasl_plain_username": settings.kafka_sasl_username,
            "sasl_plain_password": settings.kafka_sasl_password.get_secret_value(),
        }
    return options
