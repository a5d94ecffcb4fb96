"""`python -m dispatcher COMMAND ...`: one entry point, each command in its own module.

Commands are imported lazily so `classify` never pays for Faust or asyncpg.
"""

from __future__ import annotations

import importlib
import sys

from pydantic import ValidationError
from pydantic_settings import SettingsError

EX_CONFIG = 78  # sysexits.h: a configuration error
# Commands whose PostgreSQL failures (a DSN that cannot be used, PostgreSQL away or refusing)
# `main` prints in one line (dispatcher/record/connect.py); the other tools that read it say
# theirs themselves (report, demo, migrate, simulate) or have start-up checks (api, worker).
PG_TOOLS = frozenset(
    {"purge", "welcome", "summary", "roster-import", "households", "rekey-helpers", "phone-keys"}
)

COMMANDS: dict[str, tuple[str, str]] = {
    "classify": ("dispatcher.classify.cli", "decide whether a chat message is a help request"),
    "bench": ("dispatcher.bench.cli", "benchmarks: `bench match`, `bench e2e`"),
    "platform-sample": (
        "dispatcher.api.platforms.sample_cli",
        "a signed WeCom/DingTalk/Feishu callback for make run's dev bots (curl or --send)",
    ),
    "worker": ("streams.worker", "run the Faust dispatch worker"),
    "api": ("dispatcher.api.serve", "run the HTTP API"),
    "migrate": ("dispatcher.record.migrate", "apply the PostgreSQL migrations"),
    "topics": ("streams.topics", "create the Kafka topics"),
    "report": ("dispatcher.ops.report_cli", "monthly report per community (text, CSV, JSON)"),
    "demo": ("dispatcher.demo.run", "play the stories against the running service"),
    "roster-import": ("dispatcher.api.roster_import", "import a CSV/XLSX ledger of helpers"),
    "households": (
        "dispatcher.api.household_import",
        "`households import FILE`: a CSV/XLSX household ledger (tags, 结对, cards)",
    ),
    "personal-link": (
        "dispatcher.api.personal_link_cli",
        "a helper's new personal link for a new phone (or --release its binding)",
    ),
    "simulate": ("dispatcher.simulate.cli", "what-if: policies on simulated days, same draws"),
    "purge": ("dispatcher.record.retention", "erase personal data past its retention"),
    "config": (
        "dispatcher.config.cli",
        "configuration as data: apply, show, set-bot, rotate-bot, set-endpoint, "
        "set-community, history",
    ),
    "rekey-helpers": (
        "dispatcher.maintenance.rekey_helpers",
        "move helpers to keyed (irreversible) ids",
    ),
    "reseal-helpers": (
        "dispatcher.maintenance.reseal_helpers",
        "seal every helper profile under the active contact key (before an old one is dropped)"
        " and erase inactive helpers' contact",
    ),
    "phone-keys": (
        "dispatcher.maintenance.phone_keys_backfill",
        "write the phone digests roster helpers from before migration 0395 lack (one phone,"
        " one helper)",
    ),
    "welcome": (
        "dispatcher.api.helper_messages_cli:welcome_main",
        "send the welcome (personal page link) to helpers not yet welcomed",
    ),
    "invite": (
        "dispatcher.api.invite_cli",
        "print a signed self-registration link for a community (staff approve sign-ups)",
    ),
    "summary": (
        "dispatcher.api.helper_messages_cli:summary_main",
        "send each helper their month (requests helped, minutes), once per month",
    ),
}


def usage() -> str:
    lines = ["usage: python -m dispatcher COMMAND [ARGS...]", "", "commands:"]
    lines += [f"  {name:<10} {help_}" for name, (_, help_) in COMMANDS.items()]
    lines.append("")
    lines.append("`python -m dispatcher COMMAND --help` for a command's own options.")
    return "\n".join(lines)


def config_error_lines(exc: ValidationError | SettingsError) -> list[str]:
    """What is wrong, by setting and field, never with the value given: a traceback's
    `input_value` would print (the tail of) a secret set beside the mistake."""
    if isinstance(exc, SettingsError):
        return [f"invalid settings: {exc}"]  # names the setting; its cause quotes no input
    lines = [f"invalid configuration ({exc.title}):"]
    for error in exc.errors(include_input=False, include_url=False, include_context=False):
        parts = [str(part) for part in error["loc"]]
        if exc.title == "Settings" and parts:  # named as the operator sets it
            parts[0] = f"DISPATCH_{parts[0].upper()}"
        lines.append(f"  {'.'.join(parts) or '(whole)'}: {error['msg']}")
    return lines


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in {"-h", "--help", "help"}:
        print(usage())
        return 0
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        print(f"unknown command {name!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module_name, _, function = COMMANDS[name][0].partition(":")
    module = importlib.import_module(module_name)
    try:
        result: int = getattr(module, function or "main")(rest)
    except (ValidationError, SettingsError) as exc:
        print("\n".join(config_error_lines(exc)), file=sys.stderr)
        return EX_CONFIG
    except Exception as exc:
        code = pg_failure_code(name, exc)
        if code is None:
            raise
        return code
    return result


def pg_failure_code(name: str, exc: Exception) -> int | None:
    """The exit code for `exc` if it is a PostgreSQL failure `name` may end with (printed
    in one line, the password masked), else None. A DsnError, raised only by `connect`, is
    one whatever the command."""
    from dispatcher.record.connect import PG_FAILURES, DsnError, pg_failure  # asyncpg: lazy

    if isinstance(exc, DsnError) or (name in PG_TOOLS and isinstance(exc, PG_FAILURES)):
        return pg_failure(name, exc)
    return None


if __name__ == "__main__":
    sys.exit(main())
