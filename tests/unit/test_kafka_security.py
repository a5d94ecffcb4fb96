"""The Kafka connection settings reach every client the same way (dispatcher/kafka_security.py
for aiokafka, streams/app.py for Faust), and a SASL setting without a user is refused."""

from __future__ import annotations

import ssl
from pathlib import Path

import certifi
import pytest
from faust.types.auth import AuthProtocol
from pydantic import ValidationError

from dispatcher.kafka_security import client_options
from dispatcher.secret_policy import production_problems
from dispatcher.settings import Settings
from streams.app import broker_credentials

SASL = {
    "kafka_security_protocol": "SASL_SSL",
    "kafka_sasl_username": "dispatch-worker",
    "kafka_sasl_password": "pw-from-the-user-operator-0123456789",
    "kafka_ca_file": Path(certifi.where()),
}


def test_plaintext_by_default() -> None:
    s = Settings(_env_file=None)
    assert client_options(s) == {
        "bootstrap_servers": s.kafka_bootstrap,
        "security_protocol": "PLAINTEXT",
    }
    assert broker_credentials(s) is None


def test_sasl_ssl_reaches_aiokafka_and_faust() -> None:
    s = Settings(_env_file=None, **SASL)
    options = client_options(s)
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert options["sasl_plain_username"] == "dispatch-worker"
    assert options["sasl_plain_password"] == SASL["kafka_sasl_password"]
    context = options["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    creds = broker_credentials(s)
    assert creds.protocol == AuthProtocol.SASL_SSL and creds.mechanism.value == "SCRAM-SHA-512"
    assert creds.username == "dispatch-worker" and creds.password == SASL["kafka_sasl_password"]
    assert "pw-from" not in repr(creds) and "pw-from" not in repr(s)


def test_sasl_plaintext_has_no_tls() -> None:
    s = Settings(_env_file=None, **(SASL | {"kafka_security_protocol": "SASL_PLAINTEXT"}))
    assert "ssl_context" not in client_options(s)
    assert broker_credentials(s).protocol == AuthProtocol.SASL_PLAINTEXT


@pytest.mark.parametrize("missing", ["kafka_sasl_username", "kafka_sasl_password"])
def test_sasl_without_a_user_is_refused(missing: str) -> None:
    with pytest.raises(ValidationError, match="DISPATCH_KAFKA_SASL_USERNAME"):
        Settings(_env_file=None, **{k: v for k, v in SASL.items() if k != missing})


def test_production_refuses_a_placeholder_kafka_password() -> None:
    s = Settings(_env_file=None, **(SASL | {"kafka_sasl_password": "CHANGE-ME"}))
    assert any("DISPATCH_KAFKA_SASL_PASSWORD" in p for p in production_problems(s))
