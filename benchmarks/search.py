"""How fast QA search is on a large history: `python -m benchmarks.search [messages]`.

Generates a history of support conversations (default 10,000 x 10 = 100,000 messages)
into a temporary, migrated SQLite file, then times `search_conversations` for the first
page of 50 two ways on the same data: FTS5 (what SQLite deployments use) and the substring
scan (`LIKE '%term%'`, the fallback PostgreSQL uses), with and without filters. Each case
runs `rounds` times interleaved; we report medians and the scan/FTS ratio.

The history is written with plain sqlite3 in one transaction; the FTS triggers index
every row as it goes in, exactly as the app's writes would.
"""

from __future__ import annotations

import random
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from chatbot import store
from chatbot.store.search import SearchFilters, search_conversations

PERSONAS = ("support", "billing", "returns", "tech")
AGENTS = tuple(f"agent{i}" for i in range(1, 21))
PRODUCTS = ("kettle", "blender", "toaster", "headphones", "router", "backpack", "lamp", "jacket")
USER_LINES = (
    "Where is my order {order}? It was due on {day} and the tracking number shows nothing.",
    "I want a refund for the {product} from order {order}, it arrived broken.",
    "Can I change the delivery address for order {order} to my office?",
    "My card was charged twice for order {order}. Please check the invoice.",
    "The {product} stopped working after two weeks. Is it still under warranty?",
    "How do I return the {product}? I lost the original packaging.",
    "I never received the confirmation email for order {order}.",
    "Can you cancel my subscription before the next billing date?",
)
REPLY_LINES = (
    "Thanks for reaching out, {name}. I checked order {order}: it left our warehouse on "
    "{day} and the tracking number should update within 24 hours.",
    "I'm sorry the {product} arrived damaged. I've started a refund of the full amount; "
    "it usually reaches your card in 3 to 5 business days.",
    "I've updated the delivery address on order {order}. You'll get a confirmation email "
    "with the new details shortly.",
    "I can see two charges on order {order}. One is a pending authorisation and will "
    "disappear on its own; if it is still there in 3 days, reply and we will refund it.",
    "The {product} has a two-year warranty, so you're covered. I've opened a replacement "
    "request and emailed you a prepaid return label.",
    "No problem about the packaging. Print the return label from your account, put the "
    "{product} in any sturdy box and drop it at a parcel shop.",
)
NAMES = ("Sam", "Ana", "Lee", "Priya", "Jonas", "Maria", "Kofi", "Yuki")
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")
RARE_WORD = "chargeback"  # in about 1 message in 5,000
CASES: tuple[tuple[str, dict[str, Any]], ...] = (
    ("common word", {"text": "order"}),
    ("common word, by relevance", {"text": "order", "order": "relevance"}),
    ("rare word", {"text": RARE_WORD}),
    ("rare word, by relevance", {"text": RARE_WORD, "order": "relevance"}),
    ("phrase", {"text": '"tracking number"'}),
    ("prefix", {"text": "warrant*"}),
    ("two words", {"text": "refund blender"}),
    ("two words, by relevance", {"text": "refund blender", "order": "relevance"}),
    ("word + persona + status", {"text": "refund", "persona": "billing", "status": "errors"}),
    ("word + agent + dates", {"text": "invoice", "owner": "agent7", "since": "-30d"}),
    ("filters only, no text", {"persona": "returns", "owner": "agent3"}),
)


def generate(path: Path, conversations: int, per_conversation: int, seed: int = 7) -> int:
    """Write the history; returns how many messages it wrote."""
    engine = store.make_engine(f"sqlite:///{path}")
    store.migrate(engine)
    engine.dispose()
    rng = random.Random(seed)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    conv_rows, msg_rows = [], []
    message_id = 0
    for cid in range(1, conversations + 1):
        created = start + timedelta(minutes=rng.randrange(0, 60 * 24 * 180))
        updated = created + timedelta(minutes=per_conversation * 2)
        conv_rows.append((cid, f"Conversation {cid}", rng.choice(PERSONAS), rng.randint(1, 3),
                          "{}", rng.choice(AGENTS), _ts(created), _ts(updated)))
        for position in range(per_conversation):
            message_id += 1
            user = position % 2 == 0
            fill = dict(order=f"#{rng.randint(10000, 99999)}", day=rng.choice(DAYS),
                        product=rng.choice(PRODUCTS), name=rng.choice(NAMES))
            text = rng.choice(USER_LINES if user else REPLY_LINES).format(**fill)
            if rng.random() < 0.0002:
                text += f" The bank has opened a {RARE_WORD} on it."
            status = "complete" if user or rng.random() > 0.02 else "error"
            msg_rows.append((message_id, cid, position, "assistant" if not user else "user",
                             text, status, _ts(created + timedelta(minutes=position * 2))))
    with db:
        db.executemany(
            "INSERT INTO conversation (id, title, title_locked, persona, persona_version, "
            "persona_vars, owner, created_at, updated_at, archived) "
            "VALUES (?, ?, 0, ?, ?, ?, ?, ?, ?, 0)", conv_rows)
        db.executemany(
            "INSERT INTO message (id, conversation_id, position, role, content, status, "
            "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?7)", msg_rows)
    db.execute("ANALYZE")
    db.close()
    return message_id


def _ts(value: datetime) -> str:
    # How UTCDateTime stores a time on SQLite: naive UTC, space-separated.
    return value.replace(tzinfo=None).isoformat(sep=" ")


def _filters(spec: dict[str, Any], now: datetime) -> SearchFilters:
    spec = {"order": "recent", **spec}
    if spec.get("since") == "-30d":
        spec["since"] = now - timedelta(days=30)
    return SearchFilters(**spec)


def run(messages: int = 100_000, rounds: int = 7, per_conversation: int = 10,
        progress: Any = None) -> dict[str, Any]:
    log = progress or (lambda _msg: None)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "history.db"
        began = time.perf_counter()
        written = generate(path, max(1, messages // per_conversation), per_conversation)
        generate_s = time.perf_counter() - began
        log(f"generated {written:,} messages in {generate_s:.1f} s")
        engine = store.make_engine(f"sqlite:///{path}")
        now = datetime(2026, 7, 1, tzinfo=UTC)
        samples: dict[str, dict[str, list[float]]] = {
            name: {"fts": [], "like": []} for name, _ in CASES
        }
        totals: dict[str, int] = {}
        try:
            for _ in range(rounds):
                for name, spec in CASES:
                    filters = _filters(spec, now)
                    for mode, fulltext in (("fts", True), ("like", False)):
                        with store.read_session(engine) as session:
                            t0 = time.perf_counter()
                            page = search_conversations(
                                session=session, filters=filters, limit=50, fulltext=fulltext
                            )
                            samples[name][mode].append(time.perf_counter() - t0)
                        totals.setdefault(f"{name}/{mode}", page.total)
        finally:
            engine.dispose()
    cases = {}
    for name, spec in CASES:
        fts_ms = statistics.median(samples[name]["fts"]) * 1000
        like_ms = statistics.median(samples[name]["like"]) * 1000
        cases[name] = {
            "filters": {k: str(v) for k, v in spec.items()},
            "fts_median_ms": round(fts_ms, 2),
            "like_median_ms": round(like_ms, 2),
            "like_over_fts": round(like_ms / fts_ms, 1),
            "conversations_fts": totals[f"{name}/fts"],
            "conversations_like": totals[f"{name}/like"],
        }
    return {
        "benchmark": "search",
        "config": {"messages": written, "conversations": written // per_conversation,
                   "rounds": rounds, "page": 50, "sqlite": sqlite3.sqlite_version,
                   "python": sys.version.split()[0]},
        "generate_s": round(generate_s, 1),
        "cases": cases,
    }


def format_table(result: dict[str, Any]) -> str:
    config = result["config"]
    lines = [
        f"search: {config['messages']:,} messages in {config['conversations']:,} conversations, "
        f"first page of {config['page']}, median of {config['rounds']}",
        f"{'case':<28} {'FTS5':>10} {'LIKE scan':>11} {'ratio':>7}  conversations (fts / like)",
    ]
    for name, row in result["cases"].items():
        lines.append(
            f"{name:<28} {row['fts_median_ms']:>8.1f}ms {row['like_median_ms']:>9.1f}ms "
            f"{row['like_over_fts']:>6.1f}x  {row['conversations_fts']:,} / {row['conversations_like']:,}"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    print(format_table(run(count, progress=lambda msg: print(msg, file=sys.stderr))))
