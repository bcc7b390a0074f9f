"""Commands for the bank itself: init, users, blueprints, items, review, health report, ledger."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.table import Table
from sqlmodel import select

from itembank import audit
from itembank.blueprint import check_document, load_document
from itembank.cli.app import app, console, context, warn
from itembank.errors import IntegrityFailure, ValidationError
from itembank.models import Role, User
from itembank.services import blueprints, delivery, health, items, transfer, users, workflow
from itembank.services.actors import SYSTEM

blueprint_app = typer.Typer(help="Assessment-element detail tables (认定要素细目表).", no_args_is_help=True)
items_app = typer.Typer(help="Items: import, export, show.", no_args_is_help=True)
users_app = typer.Typer(help="Users and exam-engine clients.", no_args_is_help=True)
audit_app = typer.Typer(help="The tamper-evident audit ledger.", no_args_is_help=True)
bank_app = typer.Typer(help="Bank-wide reports.", no_args_is_help=True)
keys_app = typer.Typer(help="Keys: the bank's Ed25519 signing keys (sealed packages name the key that signed them) and the master key that wraps keys at rest.",
                       no_args_is_help=True)
app.add_typer(blueprint_app, name="blueprint")
app.add_typer(items_app, name="items")
app.add_typer(users_app, name="users")
app.add_typer(audit_app, name="audit")
app.add_typer(bank_app, name="bank")
app.add_typer(keys_app, name="keys")

Level = Annotated[int, typer.Option("--level", min=1, max=5, help="skill level: 4 四级 … 1 一级")]
Occupation = Annotated[str, typer.Option("--occupation", help="occupation code")]


@app.command()
def init(ctx: typer.Context) -> None:
    """Create or upgrade the schema; on an empty bank, create the first admin and print its token once."""
    c = context(ctx)
    with c.session() as session:
        if session.exec(select(User).limit(1)).first() is None:
            user, token = users.add_user(session, SYSTEM, c.actor_name, Role.ADMIN)
            console.print(f"created admin user [bold]{user.name}[/]; API token (shown once): {token}")
        else:
            console.print("schema is up to date; users already exist")


@users_app.command("add")
def users_add(ctx: typer.Context, name: str, role: Annotated[str, typer.Option("--role", help="role of the new user")]) -> None:
    """Add a user or an exam-engine client; prints its API token once (only the hash is stored)."""
    c = context(ctx)
    with c.session() as session:
        user, token = users.add_user(session, c.actor(session), name, role)
    console.print(f"user [bold]{user.name}[/] ({user.role}) token, shown once: {token}")


@users_app.command("deactivate")
def users_deactivate(ctx: typer.Context, name: str) -> None:
    """Revoke a user's or exam-engine client's token (admin); the user stays on record."""
    c = context(ctx)
    with c.session() as session:
        user = users.deactivate_user(session, c.actor(session), name)
    console.print(f"user [bold]{user.name}[/] ({user.role}) is deactivated; its token no longer works")


@keys_app.command("rotate")
def keys_rotate(ctx: typer.Context) -> None:
    """Retire the active signing key and make a new one (admin); packages already sealed still verify."""
    c = context(ctx)
    with c.session() as session:
        key = delivery.rotate_signing_key(session, c.actor(session))
    console.print(f"new signing key {key.key_id} is active; earlier keys are retired (verify only)")


@keys_app.command("list")
def keys_list(ctx: typer.Context) -> None:
    """Every signing key the bank has had, oldest first."""
    c = context(ctx)
    with c.session() as session:
        keys = delivery.signing_keys(session, c.actor(session))
    table = Table("key id", "state", "created")
    for key in keys:
        table.add_row(key.key_id, "active" if key.active else "retired", f"{key.created_at:%Y-%m-%d %H:%M}")
    console.print(table)


@blueprint_app.command("import")
def blueprint_import(ctx: typer.Context, path: Path) -> None:
    """Import a blueprint from YAML, JSON or Excel."""
    document = load_document(path)
    warn(check_document(document))
    c = context(ctx)
    with c.session() as session:
        bp = blueprints.import_blueprint(session, c.actor(session), document)
    console.print(f"imported blueprint {bp.occupation} {bp.occupation_code} level {bp.level} {bp.exam_kind} v{bp.version}")


@blueprint_app.command("show")
def blueprint_show(ctx: typer.Context, level: Level, occupation: Occupation = "4-07-03-04",
                   kind: str = "theory", version: str | None = None) -> None:
    """Print the blueprint tree with weights and importance."""
    c = context(ctx)
    with c.session() as session:
        bp = blueprints.find_blueprint(session, occupation, level, kind, version)
        nodes = blueprints.blueprint_nodes(session, bp.id)  # type: ignore[arg-type]
    table = Table(title=f"{bp.occupation} {bp.occupation_code} {bp.level_name or bp.level} {bp.exam_kind} v{bp.version}")
    for column in ("code", "name", "weight %", "of paper %", "importance"):
        table.add_column(column)
    for row in nodes.itertuples():
        indent = "  " * (row.depth - 1)
        weight = "" if pd.isna(row.weight) else f"{row.weight:g}"
        importance = "" if pd.isna(row.importance) else str(row.importance)
        table.add_row(indent + row.code, row.name, weight, f"{row.absolute_weight:.2f}", importance)
    console.print(table)


@items_app.command("import")
def items_import(ctx: typer.Context, path: Path, level: Level, occupation: Occupation = "4-07-03-04",
                 kind: str = "theory") -> None:
    """Import items from .csv or .xlsx (all rows or none) or a whole-bank .json export."""
    c = context(ctx)
    with c.session() as session:
        actor = c.actor(session)
        warnings: list[str] = []
        if path.suffix.lower() == ".json":
            count = transfer.import_bank(session, actor, json.loads(path.read_text(encoding="utf-8")))
        else:
            bp = blueprints.find_blueprint(session, occupation, level, kind)
            imported = transfer.import_items_file(session, actor, bp, path)
            count, warnings = len(imported.items), imported.warnings
    warn(warnings)
    console.print(f"imported {count} items from {path.name}")


@items_app.command("export")
def items_export(ctx: typer.Context, path: Path,
                 status: Annotated[list[str] | None, typer.Option("--status", help="only items in this status")] = None) -> None:
    """Export current versions to .csv/.xlsx, or the whole bank (lossless) to .json; the audit ledger
    records the export before the file is written."""
    c = context(ctx)
    with c.session() as session:
        export = transfer.export_file(session, c.actor(session), path, status or [])
    export.save(path)
    console.print(f"exported {export.count} items to {path} (sha256 {export.sha256})")


@items_app.command("show")
def items_show(ctx: typer.Context, external_id: str) -> None:
    """Show an item's current version, status and history."""
    c = context(ctx)
    with c.session() as session:
        item = items.get_item(session, external_id)
        version = items.current_version(session, item)
    console.print(f"[bold]{item.external_id}[/] v{item.current_version} {version.type} {version.points:g} pts "
                  f"element {version.element} — status {item.status} {item.status_reason}")
    console.print(version.stem)
    for letter, text in (version.options or {}).items():
        console.print(f"  {letter}. {text}")
    console.print(f"key: {version.key}" if version.key else f"rubric: {version.rubric}")


@app.command()
def review(ctx: typer.Context,
           action: Annotated[str, typer.Argument(help="proofread | review | return | sign | activate | suspend | reinstate | retire | compromise")],
           item_ids: Annotated[list[str], typer.Argument(help="external item ids")],
           decision: Annotated[str, typer.Option(help="for sign: approve or reject")] = "approve",
           reason: Annotated[str, typer.Option(help="why (needed to return, reject, suspend, retire, compromise)")] = "") -> None:
    """Move items through the review workflow, or sign them as an acceptance-panel member."""
    c = context(ctx)
    with c.session() as session:
        actor = c.actor(session)
        if action == "sign":
            done = workflow.sign(session, actor, item_ids, decision, reason)
        else:
            done = workflow.transition(session, actor, item_ids, action, reason)
        summary = ", ".join(f"{i.external_id}→{i.status}" for i in done[:10])
    console.print(f"{action}: {len(done)} item(s): {summary}{' …' if len(done) > 10 else ''}")


@bank_app.command("report")
def bank_report(ctx: typer.Context, level: Level, occupation: Occupation = "4-07-03-04", kind: str = "theory",
                min_items: Annotated[int | None, typer.Option(help="fewest active items an element should have")] = None,
                csv: Annotated[Path | None, typer.Option(help="also write the table to this CSV")] = None) -> None:
    """Where the active bank is thin against the blueprint."""
    c = context(ctx)
    with c.session() as session:
        bp = blueprints.find_blueprint(session, occupation, level, kind)
        report = health.bank_health(session, bp, min_items=min_items)
    table = Table(title=report.blueprint)
    for column in report.cells.columns:
        table.add_column(str(column))
    for row in report.cells.itertuples(index=False):
        table.add_row(*(f"{v:.2f}" if isinstance(v, float) else str(v) for v in row))
    console.print(table)
    console.print(report.importance.to_string(index=False))
    console.print(report.summary())
    if csv is not None:
        report.cells.to_csv(csv, index=False)


@audit_app.command("verify")
def audit_verify(ctx: typer.Context) -> None:
    """Recompute the ledger's hash chain; exits non-zero naming the first bad event."""
    c = context(ctx)
    with c.session() as session:
        check = audit.verify(session)
    if not check.ok:
        raise IntegrityFailure(str(check), field="audit_events", details={"first_bad": check.first_bad})
    console.print(str(check))



@app.command("sample-bank")
def sample_bank(ctx: typer.Context, level: Level = 3,
                n_items: Annotated[int, typer.Option("--items", min=1, help="how many items")] = 3000,
                seed: Annotated[int, typer.Option(help="generator seed (same seed, same bank)")] = 7,
                activate: Annotated[bool, typer.Option("--activate", help="take the items through scripted review to active")] = False,
                out: Annotated[Path | None, typer.Option(help="pure mode: write the item table with the simulated true a, b, c "
                                                              "(.csv or .parquet) instead of filling the bank")] = None) -> None:
    """Fill the bank with the seeded HR-Manager sample bank (loads the shipped blueprint if missing), or write it as an
    item table for the pure-mode commands (assemble --items, simulate)."""
    from itembank.config import get_settings
    from itembank.services import sample

    if out is not None:
        if activate:
            raise ValidationError("--activate needs the bank; --out writes a file only", field="activate")
        from itembank.sample_bank import shipped_sample_table

        if out.suffix.lower() not in (".csv", ".parquet"):
            raise ValidationError(f"{out.name}: expected .csv or .parquet", field="out")
        table = shipped_sample_table(level, n_items, seed)
        if out.suffix.lower() == ".csv":
            table.to_csv(out, index=False)
        else:
            table.to_parquet(out, index=False)
        console.print(f"wrote {len(table)} sample items for level {level} (seed {seed}) with their true parameters to {out}",
                      soft_wrap=True)
        return
    c = context(ctx)
    with c.session() as session:
        actor = c.actor(session)
        stored = sample.load_sample_bank(session, actor, level, n_items, seed)
        external_ids = [i.external_id for i in stored]
        crew = sample.ensure_crew(session, actor, get_settings().panel_min_members) if activate else None
    console.print(f"stored {len(stored)} sample items for level {level} (seed {seed}) as draft")
    if crew is not None:
        sample.scripted_review(c.engine, crew, external_ids, progress=lambda stage: console.print(f"  review stage done: {stage}"))
        console.print(f"{len(external_ids)} items are active")
