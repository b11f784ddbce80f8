#!/usr/bin/env python3
"""Import speed of `duet import-openwebui`, in rows per second, for an Open WebUI database with
100 000 chats (and their tags, spread over 200 accounts), into SQLite and into PostgreSQL.

The source starts from the test fixture made by the reference (tests/fixtures/openwebui/webui.db,
the 0.12.4 schema) and gains accounts, credentials and chats written in the shape Open WebUI
writes them: a document with a history of 2–8 messages (about 2 KB), tags in `meta.tags`, some
pinned, archived or in a folder. Each run imports into an empty target with the release binary and
reads the counts and time from its `--json` report; `--merge` re-runs (all rows already there)
are timed too, as that is what resuming an interrupted import costs.

Usage: bench/import_openwebui.py [--chats 100000] [--postgres postgres://root@127.0.0.1:5432/test]
       (build first: cargo build --release)
"""

import argparse
import json
import os
import pathlib
import random
import shutil
import sqlite3
import subprocess
import tempfile
import time
import uuid

ROOT = pathlib.Path(__file__).resolve().parent.parent
DUET = ROOT / 'target' / 'release' / 'duet'
FIXTURE = ROOT / 'tests' / 'fixtures' / 'openwebui' / 'webui.db'
WORDS = 'the a model answer question rust python lifetime borrow table index query chat user tag folder'.split()


def sentence(rng, n):
    return ' '.join(rng.choice(WORDS) for _ in range(n)).capitalize() + '.'


def make_source(path, chats, users=200):
    shutil.copyfile(FIXTURE, path)
    db = sqlite3.connect(path)
    rng = random.Random(7)
    # bcrypt of "Passw0rd!" (cost 12): the hash is copied, never checked here.
    bcrypt = '$2b$12$KIXQJQ8o5Q0b8jv8bBv2xeQ5G6n1pJ0c3mDq6fS2pX7o6yT1a9W3m'
    ids = [str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(users)]
    for i, uid in enumerate(ids):
        db.execute(
            'insert into user (id, name, email, role, profile_image_url, last_active_at, updated_at, created_at, settings) '
            'values (?, ?, ?, ?, ?, ?, ?, ?, ?)',
            (uid, f'User {i}', f'bench{i}@example.com', 'user', '/user.png', 1_700_000_000, 1_700_000_000, 1_700_000_000, '{"ui": {}}'),
        )
        db.execute(
            'insert into auth (id, email, password, active, session_stamp) values (?, ?, ?, 1, ?)',
            (uid, f'bench{i}@example.com', bcrypt, str(uuid.uuid4())),
        )
    tags = ['work', 'rust', 'python', 'ideas', 'help_me']
    for uid in ids:
        for t in tags:
            db.execute('insert into tag (id, name, user_id, meta) values (?, ?, ?, ?)', (t, t, uid, None))
    rows = []
    for n in range(chats):
        uid = ids[n % users]
        messages, parent = {}, None
        for m in range(rng.randint(2, 8)):
            mid = f'{n}-{m}'
            role = 'user' if m % 2 == 0 else 'assistant'
            messages[mid] = {
                'id': mid, 'parentId': parent, 'childrenIds': [], 'role': role,
                'content': sentence(rng, rng.randint(10, 60)), 'timestamp': 1_700_000_000 + n,
                **({'model': 'llama3', 'done': True} if role == 'assistant' else {'models': ['llama3']}),
            }
            if parent:
                messages[parent]['childrenIds'].append(mid)
            parent = mid
        title = sentence(rng, 4)
        doc = {'title': title, 'models': ['llama3'], 'history': {'messages': messages, 'currentId': parent}}
        meta = {'tags': rng.sample(tags, rng.randint(0, 2))}
        ts = 1_700_000_000 + n
        rows.append((f'chat-{n:06d}', uid, title, json.dumps(doc), ts, ts, n % 50 == 0, n % 20 == 0, json.dumps(meta), parent, ts))
        if len(rows) == 5000:
            insert_chats(db, rows)
            rows = []
    insert_chats(db, rows)
    db.commit()
    db.close()


def insert_chats(db, rows):
    db.executemany(
        'insert into chat (id, user_id, title, chat, created_at, updated_at, archived, pinned, meta, current_message_id, last_read_at) '
        'values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
        rows,
    )


def run(source, target, *extra):
    start = time.monotonic()
    out = subprocess.run(
        [str(DUET), 'import-openwebui', '--from', source, '--to', target, '--json', *extra],
        check=True, capture_output=True, text=True, env={**os.environ, 'RUST_LOG': 'warn'},
    ).stdout
    wall = time.monotonic() - start
    report = json.loads(out)
    rows = sum(t['written'] + t['already_there'] + t['updated'] for t in report['tables'])
    chats = next(t for t in report['tables'] if t['name'] == 'chat → chats')
    return rows, chats, wall, report['seconds']


def line(label, rows, chats, wall):
    print(f'{label:<34} {rows:>8} rows in {wall:6.1f} s = {rows / wall:>8.0f} rows/s '
          f'({chats["read"]} chats, {chats["read"] / wall:>7.0f} chats/s)')


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--chats', type=int, default=100_000)
    ap.add_argument('--postgres', default=os.environ.get('DUET_BENCH_DATABASE_URL'))
    args = ap.parse_args()
    if not DUET.exists():
        raise SystemExit('build the release binary first: cargo build --release')
    work = pathlib.Path(tempfile.mkdtemp(prefix='duet-import-bench-'))
    try:
        source = work / 'owui.db'
        t = time.monotonic()
        make_source(source, args.chats)
        print(f'source: {args.chats} chats, {source.stat().st_size / 1e6:.0f} MB, made in {time.monotonic() - t:.0f} s')
        src = f'sqlite://{source}'
        rows, chats, wall, _ = run(src, f'sqlite://{work}/duet.db')
        line('Open WebUI SQLite → duet SQLite', rows, chats, wall)
        rows, chats, wall, _ = run(src, f'sqlite://{work}/duet.db', '--merge')
        line('  again (every row already there)', rows, chats, wall)
        if args.postgres:
            import_pg(src, args.postgres)
    finally:
        shutil.rmtree(work)


def import_pg(src, base):
    schema = f'duet_bench_{uuid.uuid4().hex[:8]}'
    subprocess.run(['psql', base, '-qc', f'create schema {schema}'], check=True)
    try:
        sep = '&' if '?' in base else '?'
        target = f'{base}{sep}options[search_path]={schema}'
        rows, chats, wall, _ = run(src, target)
        line('Open WebUI SQLite → duet PostgreSQL', rows, chats, wall)
        rows, chats, wall, _ = run(src, target, '--merge')
        line('  again (every row already there)', rows, chats, wall)
    finally:
        subprocess.run(['psql', base, '-qc', f'set client_min_messages = warning; drop schema {schema} cascade'], check=True)


if __name__ == '__main__':
    main()
