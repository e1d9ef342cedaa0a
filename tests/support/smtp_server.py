#!/usr/bin/env python3
"""A real SMTP server for the email channel tests, built on aiosmtpd.

Started by tests/support/smtp.rs as a child process. It speaks on stdout and listens
on stdin, one JSON object per line:

stdout (events):
  {"event": "ready", "port": N}                 listening (the port is chosen by the OS
                                                 when --port 0)
  {"event": "message", "mail_from": "...", "rcpt_tos": [...], "tls": bool,
   "auth": "user" | null, "code": 250, "raw": "<the message as received>"}
                                                 one per DATA, written before the reply
  {"event": "ok", "cmd": ...}                    a control command was applied

stdin (control):
  {"cmd": "fail", "code": 451, "count": 1}      answer `code` to the next `count` DATA
                                                 commands (the message is still reported,
                                                 with that code)
  {"cmd": "stall", "seconds": 5, "count": 1}    wait that long before answering the next
                                                 `count` DATA commands (then 250)

Modes: --mode plain (no TLS), starttls (STARTTLS offered and required before MAIL),
implicit (TLS from the first byte, like port 465). --auth USER:PASS requires and checks
AUTH PLAIN/LOGIN with those credentials (535 otherwise).

The server exits when stdin closes, so a test that dies leaves nothing behind.
"""

import argparse
import asyncio
import json
import logging
import ssl
import sys
import threading
import warnings

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

REPLIES = {
    421: "421 4.3.2 Service shutting down (scripted)",
    450: "450 4.2.1 Mailbox busy (scripted)",
    451: "451 4.3.0 Try again later (scripted)",
    452: "452 4.3.1 Insufficient storage (scripted)",
    550: "550 5.1.1 Mailbox unavailable (scripted)",
    552: "552 5.3.4 Message too big (scripted)",
    554: "554 5.7.1 Rejected (scripted)",
}


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


class Handler:
    def __init__(self):
        self.lock = threading.Lock()
        self.script = []  # (code, delay) for the next DATA commands, in order

    def add(self, code, delay, count):
        with self.lock:
            self.script.extend([(int(code), float(delay))] * int(count))

    def next_step(self):
        with self.lock:
            return self.script.pop(0) if self.script else (250, 0.0)

    async def handle_DATA(self, server, session, envelope):
        code, delay = self.next_step()
        if delay:
            await asyncio.sleep(delay)
        raw = envelope.original_content or b""
        emit(
            {
                "event": "message",
                "mail_from": envelope.mail_from,
                "rcpt_tos": list(envelope.rcpt_tos),
                "tls": server.transport.get_extra_info("ssl_object") is not None,
                "auth": (
                    session.auth_data.login.decode("utf-8", "replace")
                    if session.authenticated
                    and isinstance(session.auth_data, LoginPassword)
                    else None
                ),
                "code": code,
                "raw": raw.decode("utf-8", "replace"),
            }
        )
        if code == 250:
            return "250 2.0.0 OK queued"
        return REPLIES.get(code, f"{code} Scripted reply")


def authenticator_for(user, password):
    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == user.encode()
            and auth_data.password == password.encode()
        )
        # handled=False: aiosmtpd itself answers 535 to a failed login.
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    return authenticate


def tls_context(cert, key):
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    return ctx


def read_control(loop, handler):
    """Apply stdin commands; stop the server when stdin closes."""
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        cmd = json.loads(line)
        if cmd.get("cmd") == "fail":
            handler.add(cmd["code"], 0, cmd.get("count", 1))
        elif cmd.get("cmd") == "stall":
            handler.add(250, cmd["seconds"], cmd.get("count", 1))
        emit({"event": "ok", "cmd": cmd.get("cmd")})
    loop.call_soon_threadsafe(loop.stop)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--mode", choices=["plain", "starttls", "implicit"], default="plain")
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--auth", help="USER:PASS required for AUTH")
    args = p.parse_args()
    # aiosmtpd logs deprecation warnings per AUTH; the events on stdout say what matters.
    logging.getLogger("mail.log").setLevel(logging.ERROR)
    # AUTH without TLS is what the plaintext mode tests, on loopback only.
    warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")

    handler = Handler()
    ctx = tls_context(args.cert, args.key) if args.mode != "plain" else None
    smtp_kwargs = {"hostname": "smtp.test", "auth_require_tls": args.mode == "starttls"}
    if args.mode == "starttls":
        smtp_kwargs.update(tls_context=ctx, require_starttls=True)
    if args.auth:
        user, _, password = args.auth.partition(":")
        smtp_kwargs.update(
            authenticator=authenticator_for(user, password), auth_required=True
        )

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    server = loop.run_until_complete(
        loop.create_server(
            lambda: SMTP(handler, loop=loop, **smtp_kwargs),
            host=args.host,
            port=args.port,
            ssl=ctx if args.mode == "implicit" else None,
        )
    )
    emit({"event": "ready", "port": server.sockets[0].getsockname()[1]})
    threading.Thread(target=read_control, args=(loop, handler), daemon=True).start()
    try:
        loop.run_forever()
    finally:
        server.close()


if __name__ == "__main__":
    main()
