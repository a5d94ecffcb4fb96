"""The one settings object (prefix DISPATCH_), built once at the composition root, passed down."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from dispatcher.login_config import PlatformLoginConfig
from dispatcher.push.endpoints import EndpointConfig
from schemas.party import PartyFirst

REPO_ROOT = Path(__file__).resolve().parent.parent
# Beyond the personal topics' retention.ms, how long Kafka may still hold a personal record:
# segment.ms (streams/topics.py: at most 24 h), and a closed request's table record (24 h).
PERSONAL_RECORD_SLACK_HOURS = 24


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DISPATCH_", frozen=True, extra="ignore")

    # Kafka
    kafka_bootstrap: str = "127.0.0.1:19092"
    topic_partitions: int = Field(8, ge=1)
    topic_replication_factor: int = Field(1, ge=1)
    commands_topic: str = "dispatch.commands"
    events_topic: str = "dispatch.events"
    dead_letter_topic: str = "dispatch.deadletter"
    # Configuration as data (dispatcher/config): compacted, keyed by entity, read from the
    # beginning by every API and worker process.
    config_topic: str = "dispatch.config"
    # Community id → partition of `commands` and `events` (JSON object); unlisted communities
    # hash (murmur2). See dispatcher/partitioning.py: with few communities hashing is uneven.
    community_partitions: dict[str, Annotated[int, Field(ge=0)]] = Field(default_factory=dict)
    # How every Kafka client connects (dispatcher/kafka_security.py): PLAINTEXT locally; in
    # production SASL_SSL with SCRAM-SHA-512, the user's password from the Secret the
    # Strimzi user operator makes, and the cluster CA (deploy/k8s/kafka-strimzi.yaml).
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "SCRAM-SHA-512"
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ca_file: Path | None = None  # PEM; None: the system's CAs

    # Faust worker
    app_id: str = "neighbour-dispatch"
    worker_web_host: str = "127.0.0.1"
    worker_web_port: int = 6066
    # The workers' web pages the API's stream-health view probes (/stats: liveness, push
    # outcomes per endpoint). Empty: the one at worker_web_host:worker_web_port.
    worker_web_urls: list[str] = []
    data_dir: Path = REPO_ROOT / ".stack" / "faust"
    deadline_tick_seconds: float = Field(0.1, gt=0)
    # Multiplies every wait, offer time and lifetime of the escalation plans. 1.0 in
    # production; tests and the demo run the same ladder faster (e.g. 0.01).
    plan_time_scale: float = Field(1.0, gt=0, le=100)
    # How long the broker may hold the worker's Faust fetch (Faust hard-codes 1.5 s): also how
    # long new commands can wait behind a fetch that left their partition out
    # (streams/faust_poll.py). Lower: less of that stall, more empty fetches when idle.
    consumer_fetch_max_wait_ms: int = Field(100, ge=1, le=1500)
    # The worker's collector thresholds (`gc.set_threshold`; CPython's are 700, 10, 10): objects
    # made before a young pass, young passes before a middle one, middle ones before a full
    # one (streams/gc_freeze.py, gc_stats.py). 5,000: with the ageing freeze, half the
    # collector's time of 700 and full passes of ~3 ms (docs/performance-log.md, session 13).
    gc_thresholds: tuple[
        Annotated[int, Field(ge=100, le=1_000_000)],
        Annotated[int, Field(ge=1, le=10_000)],
        Annotated[int, Field(ge=1, le=10_000)],
    ] = (5000, 10, 10)
    # Every this many seconds the worker freezes what survived its young collections, so the
    # full ones walk only what aged since (streams/gc_freeze.py AgeingFreeze); 0: never.
    gc_freeze_every_seconds: float = Field(10.0, ge=0, le=3600)
    # ...and collects everything (unfreeze, collect, freeze) this often: the cyclic garbage
    # that freezing held back is freed then, at the cost of one pause over the whole heap.
    gc_full_every_seconds: float = Field(600.0, gt=0, le=86_400)
    # A SIGKILLed worker's partitions move to the others after this long.
    broker_session_timeout_seconds: float = Field(10.0, ge=6)
    broker_heartbeat_interval_seconds: float = Field(2.0, gt=0)
    # A diagnostic: count the worker's asyncio callbacks that ran at least this long, by
    # task, on its /stats page (streams/loop_census.py). 0: off (it wraps every callback).
    loop_census_ms: float = Field(0.0, ge=0)
    # A stopping worker waits this long for records its streams still hold (pushes in flight),
    # then exits without committing them: the next owner reads them again (streams/faust_stop.py).
    stop_drain_seconds: float = Field(5.0, ge=0)
    record_batch_size: int = Field(200, ge=1)
    # A decision's events in one record on `events` (schemas/event_batch.py). Off: one
    # record per event, as releases before the batches wrote them: for a rolling upgrade
    # from such a release, whose readers cannot read a batch (README "Reliability").
    event_batches: bool = True
    # A wave's offers in one `offers_sent` event, a decision's stand-downs in one
    # `offers_stood_down` (session 19). Off: one event per offer, as releases before them
    # wrote: for a rolling upgrade from such a release, whose readers cannot read these kinds
    # (README "Reliability"); set back once every worker and API runs this release.
    wave_events: bool = True
    # The notify agent pushes a decision's events as soon as Kafka acknowledged their record,
    # handed over by the dispatch agent, rather than once its consumer reads the record back
    # (still read: acknowledged when those pushes settle; streams/notify.py). Off: pushes
    # wait for the record, as before.
    notify_early: bool = True
    record_batch_wait_seconds: float = Field(0.2, ge=0)
    # Faust's table store. "rocksdb://" (rocksdict) keeps each partition's state on local
    # disk, so a restarted worker replays only the changelog written since (crash test: resume
    # 3-10 s against 6-17 s with "memory://", which replays every changelog from the start).
    faust_store: str = "rocksdb://"
    # Static group membership (group.instance.id = app id + worker name): a restarted worker
    # gets its partitions back at once instead of after the session timeout.
    static_membership: bool = True
    # The project's fix of Faust's recovery race (streams/faust_recovery.py, faust_consumer.py).
    # Off only to show, in a diagnostic run, what unpatched faust-streaming 0.15.3 does.
    faust_offset_fixes: bool = True
    # A directory for a per-worker JSON-lines trace of processed commands and fired deadlines
    # (partition, offset, command id): what the crash tests check. Unset in production.
    trace_dir: Path | None = None

    # PostgreSQL
    pg_dsn: SecretStr = SecretStr("postgresql://dispatch@127.0.0.1:55432/dispatch")
    pg_pool_max: int = Field(5, ge=1)

    # HTTP API
    api_host: str = "127.0.0.1"
    api_port: int = 8080
    public_base_url: str = "http://127.0.0.1:8080"
    max_body_bytes: int = Field(256 * 1024, ge=1024)
    # How long the API holds an idle keep-alive connection. Longer than any client's or
    # proxy's own idle limit (httpx 5 s, nginx 75 s): the client must be the one to close,
    # since a server closing just as the client reuses the connection fails that request
    # ("Server disconnected without sending a response": uvicorn's 5 s = httpx's 5 s raced).
    api_keepalive_seconds: int = Field(90, ge=1)
    # `Server-Timing` on POST /v1/requests' answers (api/server_timing.py): the phases of
    # each intake. Off: it tells callers how long the database and Kafka took. `bench e2e`
    # turns it on for its own API.
    server_timing: bool = False
    roster_max_bytes: int = Field(8 * 1024 * 1024, ge=1024)  # a community's whole ledger
    # The unrecorded sweeper (api/unrecorded_sweeper.py): acknowledged commands not recorded
    # after this long are produced again (same command id).
    reconcile_grace_seconds: float = Field(30.0, gt=0)
    reconcile_interval_seconds: float = Field(5.0, gt=0)
    reconcile_enabled: bool = True  # defence in depth; the crash tests run without it
    # Chat-message classification runs in a thread; past this, 503 + Retry-After (issue 15).
    classify_timeout_seconds: float = Field(2.0, gt=0)
    # A platform group (WeCom, DingTalk, Feishu) hears the call-now line for a message not
    # read in time ("如有人生命危险，请立即拨打…") at most once per this many seconds, per API
    # process: in a stall, a busy group's every message would post it. A message the rules
    # read as life-threatening always gets its own (api/platforms/routes.py).
    unread_advice_window_seconds: float = Field(60.0, gt=0, le=3600)
    # Optional language-model backend for chat messages (issue 15): off unless a URL is set.
    # Any OpenAI-compatible chat-completions service, e.g. DashScope's compatible mode
    # (https://dashscope.aliyuncs.com/compatible-mode/v1), DeepSeek, or a local server.
    llm_base_url: str | None = None
    llm_model: str = "qwen-plus"
    llm_api_key: SecretStr = SecretStr("")
    llm_timeout_seconds: float = Field(1.5, gt=0, le=30)
    llm_cache_size: int = Field(4096, ge=0)
    # The model's circuit breaker (api/llm_classifier.py): after this many calls in a row
    # failed (timed out, an HTTP error, an unreadable answer), the model is not asked for
    # llm_breaker_cool_off_seconds (each message gets the rules' answer at once, not after
    # the timeout); then one message probes it, and an answer closes the circuit.
    llm_breaker_failures: int = Field(5, ge=1, le=1000)
    llm_breaker_cool_off_seconds: float = Field(30.0, gt=0, le=3600)
    # Bots: a JSON file of credentials, communities and groups
    # (format: dispatcher/groupchat/bots.py).
    # Unset on a dev install (link_secret still the default): one dev-only bot.
    bots_file: Path | None = None

    # Push: endpoints only from here (admin configuration), never from a request.
    # DISPATCH_PUSH_ENDPOINTS='[{"name": "default", "kind": "webhook", "url": "...",
    # "secret": "whsec_..."}]'. Empty: the notify agent is off (offers stay visible on the
    # dashboard and to simulated phones, but nobody is pushed).
    push_endpoints: list[EndpointConfig] = Field(default_factory=list)
    push_default_endpoint: str | None = "default"  # for helpers without channels
    # Host names the outbound client (pushes, group replies) may reach although they
    # resolve inside the deployment (a relay on the LAN by name): every other name that
    # resolves to a private, loopback or link-local address is refused when connecting
    # (dispatcher/push/egress.py). Addresses written as such are judged when configured.
    outbound_private_hosts: list[str] = Field(default_factory=list)

    # Secrets
    link_secret: SecretStr = SecretStr("dev-only-link-secret-change-me")
    staff_token: SecretStr = SecretStr("dev-staff-token")

    # Safe by default (issue 12). Production unless DISPATCH_MODE=dev: outside dev mode the
    # api and worker refuse to start while any secret is a default, empty or short
    # (dispatcher/secret_policy.py). `make run`, the tests and the demo set dev.
    mode: Literal["production", "dev"] = "production"
    # Rotation: links signed with a previous secret still verify; new links use link_secret.
    link_secrets_previous: list[SecretStr] = Field(default_factory=list)
    # Keys helper ids (HMAC of community + phone), so an id never reverses to a phone.
    helper_id_key: SecretStr = SecretStr("dev-only-helper-id-key-change-me")
    # `/metrics` answers only `Authorization: Bearer <metrics_token>` (Prometheus scrape auth).
    metrics_token: SecretStr = SecretStr("dev-only-metrics-token")
    # Seals contacts for Kafka (issue 12.7, dispatcher/sealing.py): AES-256-GCM under a key
    # derived from this; the broker never sees it. Rotation: new boxes use contact_key,
    # previous keys only open (drop one once nothing sealed under it must be read).
    contact_key: SecretStr = SecretStr("dev-only-contact-key-change-me")
    contact_keys_previous: list[SecretStr] = Field(default_factory=list)
    # Proxies whose X-Forwarded-Proto is believed (IPs); anyone else's is ignored.
    trusted_proxies: list[str] = Field(default_factory=list)
    # Wrong staff or metrics tokens one client address may present (dispatcher/api/auth.py):
    # 10 at once, then this many a minute; past that, 429 whatever it presents. Tests that
    # spend the 10 set it near 0, so that none comes back while they run.
    failed_sign_ins_per_minute: float = Field(5.0, gt=0, le=600)
    # Per-person staff accounts (format: dispatcher/api/staff_accounts.py); re-read on change.
    staff_file: Path | None = None
    # Chat platforms' in-app web login for offer links (dispatcher/api/platform_login/):
    # DISPATCH_PLATFORM_LOGINS='[{"kind": "wecom", "communities": ["c1"], "app_id": "<CorpID>",
    # "app_secret": "...", "agent_id": "1000002"}]'. Empty: links work as signed links only.
    platform_logins: list[PlatformLoginConfig] = Field(default_factory=list)
    # How long a platform login lets its helper act and see an accepted request's contact.
    login_session_seconds: int = Field(15 * 60, ge=60, le=3600)
    # Contacts and free text are purged this many days after a request closes (PIPL).
    retention_days: int = Field(30, ge=1)
    # A helper's sign-up staff never decide lapses this many days after it was made: its
    # name, building, channel, profile (with the phone) and phone digest are erased.
    signup_pending_days: int = Field(30, ge=1)
    # retention.ms of the topics that carry personal data (commands, events, dead letters).
    personal_topic_retention_hours: float = Field(7 * 24, gt=0)

    log_level: str = "INFO"
    log_json: bool = False

    # Where `python -m dispatcher simulate` writes its reports; the dashboard links to the
    # latest one (`latest.html` in this directory).
    simulate_reports_dir: Path = Path("reports")

    # Community id → party-first setting (JSON), e.g. {"zhonghua": {"default": true}} or
    # {"kaiyuan": {"categories": ["medical", "fall"]}}: party members ranked first within
    # each ring for those requests (read by the worker at start; a request may still ask).
    party_first: dict[str, PartyFirst] = Field(default_factory=dict)

    @field_validator("platform_logins")
    @classmethod
    def _one_login_per_community(
        cls, logins: list[PlatformLoginConfig]
    ) -> list[PlatformLoginConfig]:
        seen: dict[str, str] = {}
        for login in logins:
            for community in login.communities:
                if community in seen:
                    raise ValueError(f"community {community!r} has two platform logins")
                seen[community] = login.kind
        return logins

    @model_validator(mode="after")
    def _sasl_needs_a_user(self) -> Settings:
        if self.kafka_security_protocol.startswith("SASL_") and not (
            self.kafka_sasl_username
            and self.kafka_sasl_password
            and self.kafka_sasl_password.get_secret_value()
        ):
            raise ValueError(
                "DISPATCH_KAFKA_SECURITY_PROTOCOL=SASL_… needs DISPATCH_KAFKA_SASL_USERNAME "
                "and DISPATCH_KAFKA_SASL_PASSWORD"
            )
        return self

    @model_validator(mode="after")
    def _retention_outlasts_kafka(self) -> Settings:
        # PostgreSQL's erase of a closed request's contact must come after Kafka's last copy
        # of it is gone: a topic's record lives up to retention.ms + segment.ms (≤ 24 h), a
        # closed request's table record 24 h then max.compaction.lag.ms (the same hours).
        # Shorter and the sealed contact outlives the erase. Dev mode (tests, demo) may.
        kafka_h = self.personal_topic_retention_hours + PERSONAL_RECORD_SLACK_HOURS
        if self.mode != "dev" and self.retention_days * 24 <= kafka_h:
            raise ValueError(
                f"DISPATCH_RETENTION_DAYS={self.retention_days} ({self.retention_days * 24} h) "
                f"must be above DISPATCH_PERSONAL_TOPIC_RETENTION_HOURS="
                f"{self.personal_topic_retention_hours:g} + {PERSONAL_RECORD_SLACK_HOURS} h "
                f"({kafka_h:g} h, how long Kafka may keep a request's sealed contact): raise "
                "DISPATCH_RETENTION_DAYS or lower DISPATCH_PERSONAL_TOPIC_RETENTION_HOURS"
            )
        return self

    def platform_login_for(self, community_id: str) -> PlatformLoginConfig | None:
        return next((p for p in self.platform_logins if community_id in p.communities), None)

    def faust_data_dir(self, worker_name: str = "worker") -> Path:
        # One data dir per worker process: RocksDB and Faust's own files lock otherwise.
        return self.data_dir / worker_name

    # The dispatch agent takes at most this many waiting commands as one group (their events
    # in one produce round trip; streams/command_groups.py). 1: one command at a time.
    command_group_max: int = Field(16, ge=1)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
