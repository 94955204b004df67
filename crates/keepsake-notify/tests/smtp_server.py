#!/usr/bin/python3
"""A real SMTP server (aiosmtpd) for keepsake-notify's integration tests.

Binds 127.0.0.1 on a free port, prints "PORT <n>" once it listens, and stops when its standard
input closes (so it dies with the test even if the test is killed). Each accepted message is
written raw to DIR/NNNN.eml, with DIR/NNNN.json beside it: the envelope, whether the connection
was encrypted, who signed in, and the message as Python's email package reads it (decoded
headers, and each part's type and decoded text), so the tests check it with an independent parser.

Modes:
  --security plain|starttls|tls   no TLS; STARTTLS offered and required before MAIL; TLS from the
                                   first byte (needs --cert and --key)
  --auth USER:PASSWORD             sign-in required (PLAIN and LOGIN)
  --reject-rcpt "550 5.7.1 ..."    answer every RCPT TO with this reply
  --reject-data "451 4.3.0 ..."    answer every DATA with this reply
"""

import argparse
import asyncio
import email
import email.policy
import json
import os
import socket
import ssl
import sys

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Handler:
    def __init__(self, directory, reject_rcpt, reject_data):
        self.directory = directory
        self.reject_rcpt = reject_rcpt
        self.reject_data = reject_data
        self.count = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.reject_rcpt:
            return self.reject_rcpt
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.reject_data:
            return self.reject_data
        self.count += 1
        name = "%04d" % self.count
        encrypted = server.transport.get_extra_info("ssl_object") is not None
        login = None
        if session.authenticated and isinstance(session.auth_data, LoginPassword):
            login = session.auth_data.login.decode("utf-8", "replace")
        meta = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "encrypted": encrypted,
            "login": login,
            "helo": session.host_name,
        }
        parsed = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        meta["headers"] = {k.lower(): str(v) for k, v in parsed.items()}
        meta["content_type"] = parsed.get_content_type()
        meta["parts"] = [
            {"type": part.get_content_type(), "text": part.get_content()}
            for part in parsed.walk()
            if not part.is_multipart()
        ]
        base = os.path.join(self.directory, name)
        with open(base + ".eml.tmp", "wb") as f:
            f.write(envelope.original_content)
        with open(base + ".json.tmp", "w") as f:
            json.dump(meta, f)
        os.rename(base + ".json.tmp", base + ".json")
        os.rename(base + ".eml.tmp", base + ".eml")
        return "250 2.0.0 Ok: queued as KS" + name


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", required=True)
    parser.add_argument("--security", choices=["plain", "starttls", "tls"], default="plain")
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--auth")
    parser.add_argument("--reject-rcpt")
    parser.add_argument("--reject-data")
    args = parser.parse_args()

    context = None
    if args.security != "plain":
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.cert, args.key)

    authenticator = None
    if args.auth:
        user, password = args.auth.split(":", 1)

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (
                isinstance(auth_data, LoginPassword)
                and auth_data.login == user.encode()
                and auth_data.password == password.encode()
            )
            return AuthResult(success=ok, handled=False, auth_data=auth_data)

    handler = Handler(args.dir, args.reject_rcpt, args.reject_data)

    def factory():
        return SMTP(
            handler,
            hostname="mail.test",
            ident="Keepsake test SMTP",
            tls_context=context if args.security == "starttls" else None,
            require_starttls=args.security == "starttls",
            authenticator=authenticator,
            auth_required=authenticator is not None,
            # With TLS from the first byte aiosmtpd does not know the connection is encrypted.
            auth_require_tls=args.security == "starttls",
        )

    async def serve():
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        loop = asyncio.get_running_loop()
        implicit = context if args.security == "tls" else None
        server = await loop.create_server(factory, sock=sock, ssl=implicit)
        print("PORT %d" % sock.getsockname()[1], flush=True)
        await loop.run_in_executor(None, sys.stdin.read)
        server.close()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
