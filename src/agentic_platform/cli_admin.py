"""``agentic keys``, ``agentic plans`` and ``agentic usage``: the admin API from a terminal."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, NoReturn

import typer

from agentic_platform.clients.admin import AdminClient
from agentic_platform.errors import PlatformError

Url = Annotated[str | None, typer.Option(help="Platform URL; defaults to AGENTIC_HOST:PORT.")]
ApiKey = Annotated[
    str | None,
    typer.Option(
        envvar="AGENTIC_API_KEY", help="API key; defaults to the admin key in the data directory."
    ),
]
Json = Annotated[bool, typer.Option("--json", help="Print raw JSON.")]

plans_app = typer.Typer(help="Usage plans: limits and budgets.", no_args_is_help=True)


def call(
    target: Callable[[], tuple[str, str]], work: Callable[[AdminClient], Awaitable[Any]]
) -> Any:
    """Run ``work`` with an admin client; API errors become a one-line message and exit 1."""
    import httpx

    base_url, key = target()

    async def run() -> Any:
        async with AdminClient(base_url, key) as client:
            return await work(client)

    try:
        return asyncio.run(run())
    except PlatformError as error:
        typer.echo(f"error: {error.message}", err=True)
        raise typer.Exit(1) from None
    except httpx.ConnectError:
        typer.echo("error: cannot reach the platform; is `agentic up` running?", err=True)
        raise typer.Exit(1) from None


def table(rows: list[dict[str, Any]], columns: list[str]) -> None:
    if not rows:
        typer.echo("(none)")
        return
    widths = {c: max(len(c), *(len(_cell(r.get(c))) for r in rows)) for c in columns}
    typer.echo("  ".join(c.upper().ljust(widths[c]) for c in columns))
    for row in rows:
        typer.echo("  ".join(_cell(row.get(c)).ljust(widths[c]) for c in columns))


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


PLAN_FIELDS = {
    "rpm": "requests_per_minute",
    "input-tpm": "input_tokens_per_minute",
    "output-tpm": "output_tokens_per_minute",
    "concurrent": "max_concurrent_requests",
    "daily-usd": "budget_usd_per_day",
    "monthly-usd": "budget_usd_per_month",
    "model": "allowed_models",
}
"""The plan options of ``plans create`` and ``plans update``, and the fields they set."""


def _plan_table(plans: list[dict[str, Any]]) -> None:
    table(
        plans,
        ["id", "name", "requests_per_minute", "max_concurrent_requests",
         "budget_usd_per_day", "budget_usd_per_month", "allowed_models", "active"],
    )  # fmt: skip


def _usage_error(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def echo_json(value: object) -> None:
    typer.echo(json.dumps(value, indent=2, default=str))


Resolve = Callable[[str | None, str | None], tuple[str, str]]


def register(keys_app: typer.Typer, app: typer.Typer, resolve: Resolve) -> None:
    """Attach the admin commands; ``resolve`` turns the --url and --api-key options into the
    platform URL and key, falling back to settings and the admin key file."""

    @keys_app.command("create")
    def keys_create(
        name: Annotated[str, typer.Option(help="A name to recognise the key by.")] = "",
        principal: Annotated[str | None, typer.Option(help="Owner (admins only).")] = None,
        expires_in_days: Annotated[float | None, typer.Option(help="Lifetime in days.")] = None,
        model: Annotated[
            list[str] | None, typer.Option("--model", help="Allowed model pattern (repeat).")
        ] = None,
        plan: Annotated[str | None, typer.Option(help="Plan id (admins only).")] = None,
        url: Url = None,
        api_key: ApiKey = None,
    ) -> None:
        """Create an API key and print its secret (shown only once)."""
        spec: dict[str, Any] = {"name": name}
        for field, value in (
            ("principal_id", principal),
            ("expires_in_days", expires_in_days),
            ("allowed_models", model),
            ("plan_id", plan),
        ):
            if value is not None:
                spec[field] = value
        created = call(lambda: target_with(url, api_key), lambda c: c.create_key(**spec))
        typer.echo(f"id:     {created['id']}\nsecret: {created['secret']}")
        typer.echo("Store the secret now: it cannot be shown again.", err=True)

    def target_with(url: str | None, api_key: str | None) -> tuple[str, str]:
        return resolve(url, api_key)

    @keys_app.command("list")
    def keys_list(
        principal: Annotated[str | None, typer.Option(help="Only this owner's keys.")] = None,
        revoked: Annotated[bool, typer.Option(help="Include revoked keys.")] = False,
        as_json: Json = False,
        url: Url = None,
        api_key: ApiKey = None,
    ) -> None:
        """List keys (admins: all; others: their own)."""
        params: dict[str, Any] = {"include_revoked": revoked}
        if principal:
            params["principal_id"] = principal
        keys = call(lambda: target_with(url, api_key), lambda c: c.list_keys(**params))
        if as_json:
            echo_json(keys)
            return
        columns = ["id", "name", "prefix", "principal_id", "expires_at", "revoked_at"]
        table(keys, [*columns, "last_used_at"])

    @keys_app.command("update")
    def keys_update(
        key_id: str,
        models: Annotated[
            str | None,
            typer.Option(help="Allowed model patterns, comma-separated (e.g. 'echo,gpt-*')."),
        ] = None,
        all_models: Annotated[
            bool, typer.Option("--all-models", help="Drop the allowlist: every model.")
        ] = False,
        name: Annotated[str | None, typer.Option(help="A new name.")] = None,
        url: Url = None,
        api_key: ApiKey = None,
    ) -> None:
        """Change a key's model allowlist or name; the key and its secret stay."""
        change: dict[str, Any] = {} if name is None else {"name": name}
        if models is not None and all_models:
            _usage_error("give --models or --all-models, not both")
        if models is not None:
            patterns = [pattern.strip() for pattern in models.split(",") if pattern.strip()]
            if not patterns:
                _usage_error("--models needs at least one pattern (--all-models allows every one)")
            change["allowed_models"] = patterns
        elif all_models:
            change["allowed_models"] = None
        if not change:
            _usage_error("nothing to change: give --models, --all-models or --name")
        key = call(
            lambda: target_with(url, api_key),
            lambda c: c.request("PATCH", f"/keys/{key_id}", json=change),
        )
        typer.echo(f"{key['id']}  models: {_cell(key.get('allowed_models') or 'all')}")

    @keys_app.command("revoke")
    def keys_revoke(key_id: str, url: Url = None, api_key: ApiKey = None) -> None:
        """Revoke a key: every replica refuses it within a second."""
        call(lambda: target_with(url, api_key), lambda c: c.revoke_key(key_id))
        typer.echo(f"revoked {key_id}")

    @keys_app.command("rotate")
    def keys_rotate(
        key_id: str,
        grace_seconds: Annotated[float, typer.Option(help="Keep the old key this long.")] = 0,
        url: Url = None,
        api_key: ApiKey = None,
    ) -> None:
        """Replace a key's secret, keeping its settings."""
        rotated = call(
            lambda: target_with(url, api_key), lambda c: c.rotate_key(key_id, grace_seconds)
        )
        typer.echo(f"id:     {rotated['id']}\nsecret: {rotated['secret']}")

    @plans_app.command("create")
    def plans_create(
        name: str,
        rpm: Annotated[int | None, typer.Option(help="Requests per minute.")] = None,
        input_tpm: Annotated[int | None, typer.Option(help="Input tokens per minute.")] = None,
        output_tpm: Annotated[int | None, typer.Option(help="Output tokens per minute.")] = None,
        concurrent: Annotated[int | None, typer.Option(help="Concurrent requests.")] = None,
        daily_usd: Annotated[float | None, typer.Option(help="Budget per UTC day.")] = None,
        monthly_usd: Annotated[float | None, typer.Option(help="Budget per month.")] = None,
        model: Annotated[
            list[str] | None, typer.Option("--model", help="Allowed model pattern (repeat).")
        ] = None,
        url: Url = None,
        api_key: ApiKey = None,
    ) -> None:
        """Create a plan."""
        spec = {
            "name": name,
            "requests_per_minute": rpm,
            "input_tokens_per_minute": input_tpm,
            "output_tokens_per_minute": output_tpm,
            "max_concurrent_requests": concurrent,
            "budget_usd_per_day": daily_usd,
            "budget_usd_per_month": monthly_usd,
            "allowed_models": model,
        }
        spec = {k: v for k, v in spec.items() if v is not None}
        plan = call(
            lambda: target_with(url, api_key), lambda c: c.request("POST", "/plans", json=spec)
        )
        typer.echo(plan["id"])

    @plans_app.command("update")
    def plans_update(
        plan_id: str,
        name: Annotated[str | None, typer.Option(help="A new name.")] = None,
        rpm: Annotated[int | None, typer.Option(help="Requests per minute.")] = None,
        input_tpm: Annotated[int | None, typer.Option(help="Input tokens per minute.")] = None,
        output_tpm: Annotated[int | None, typer.Option(help="Output tokens per minute.")] = None,
        concurrent: Annotated[int | None, typer.Option(help="Concurrent requests.")] = None,
        daily_usd: Annotated[float | None, typer.Option(help="Budget per UTC day.")] = None,
        monthly_usd: Annotated[float | None, typer.Option(help="Budget per month.")] = None,
        model: Annotated[
            list[str] | None, typer.Option("--model", help="Allowed model pattern (repeat).")
        ] = None,
        clear: Annotated[
            list[str] | None,
            typer.Option(
                "--clear",
                help=f"Remove a limit or the allowlist (repeat): {', '.join(PLAN_FIELDS)}.",
            ),
        ] = None,
        active: Annotated[
            bool | None, typer.Option("--active/--inactive", help="Switch the plan on or off.")
        ] = None,
        url: Url = None,
        api_key: ApiKey = None,
    ) -> None:
        """Change a plan: only the options given change; every key on it follows at once."""
        given = {
            "rpm": rpm,
            "input-tpm": input_tpm,
            "output-tpm": output_tpm,
            "concurrent": concurrent,
            "daily-usd": daily_usd,
            "monthly-usd": monthly_usd,
            "model": model,
        }
        change: dict[str, Any] = {PLAN_FIELDS[k]: v for k, v in given.items() if v is not None}
        for option in clear or []:
            if option not in PLAN_FIELDS:
                _usage_error(f"--clear {option}: choose from {', '.join(PLAN_FIELDS)}")
            if given[option] is not None:
                _usage_error(f"--{option} and --clear {option} contradict each other")
            change[PLAN_FIELDS[option]] = None
        for field, value in (("name", name), ("active", active)):
            if value is not None:
                change[field] = value
        if not change:
            _usage_error("nothing to change: give a limit, --model, --clear, --name or --active")
        plan = call(
            lambda: target_with(url, api_key),
            lambda c: c.request("PATCH", f"/plans/{plan_id}", json=change),
        )
        _plan_table([plan])

    @plans_app.command("delete")
    def plans_delete(plan_id: str, url: Url = None, api_key: ApiKey = None) -> None:
        """Delete a plan no key, principal or team uses any more."""
        call(lambda: target_with(url, api_key), lambda c: c.request("DELETE", f"/plans/{plan_id}"))
        typer.echo(f"deleted {plan_id}")

    @plans_app.command("list")
    def plans_list(as_json: Json = False, url: Url = None, api_key: ApiKey = None) -> None:
        """List plans."""
        plans = call(lambda: target_with(url, api_key), lambda c: c.request("GET", "/plans"))
        if as_json:
            echo_json(plans)
            return
        _plan_table(plans)

    @plans_app.command("assign")
    def plans_assign(
        plan_id: Annotated[str, typer.Argument(help="The plan; 'none' detaches.")],
        key: Annotated[str | None, typer.Option(help="A key id.")] = None,
        principal: Annotated[str | None, typer.Option(help="A principal id.")] = None,
        team: Annotated[str | None, typer.Option(help="A team id.")] = None,
        url: Url = None,
        api_key: ApiKey = None,
    ) -> None:
        """Attach a plan to a key, a principal or a team."""
        chosen = [
            (p, v) for p, v in (("keys", key), ("principals", principal), ("teams", team)) if v
        ]
        if len(chosen) != 1:
            _usage_error("give exactly one of --key, --principal or --team")
        path = f"/{chosen[0][0]}/{chosen[0][1]}"
        value = None if plan_id == "none" else plan_id
        call(
            lambda: target_with(url, api_key),
            lambda c: c.request("PATCH", path, json={"plan_id": value}),
        )
        typer.echo(f"{path.strip('/')} now on plan {plan_id}")

    @app.command()
    def usage(
        group_by: Annotated[str, typer.Option(help="day, model, principal or team.")] = "day",
        start: Annotated[str | None, typer.Option(help="From, ISO 8601.")] = None,
        end: Annotated[str | None, typer.Option(help="Until, ISO 8601.")] = None,
        principal: Annotated[str | None, typer.Option(help="Only this principal.")] = None,
        team: Annotated[str | None, typer.Option(help="Only this team.")] = None,
        model: Annotated[str | None, typer.Option(help="Only this model.")] = None,
        csv: Annotated[bool, typer.Option("--csv", help="Print CSV.")] = False,
        url: Url = None,
        api_key: ApiKey = None,
    ) -> None:
        """Usage totals from the ledger (members see only their own)."""
        params = {
            "group_by": group_by,
            "start": start,
            "end": end,
            "principal_id": principal,
            "team_id": team,
            "model": model,
            "format": "csv" if csv else "json",
        }
        params = {k: v for k, v in params.items() if v is not None}
        result = call(
            lambda: target_with(url, api_key), lambda c: c.request("GET", "/usage", params=params)
        )
        if csv:
            typer.echo(result, nl=False)
            return
        table(
            result["totals"],
            ["group", "requests", "errors", "input_tokens", "output_tokens", "cost_usd"],
        )

    app.add_typer(plans_app, name="plans")
