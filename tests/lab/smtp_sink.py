"""SMTP sink for the Keepsake test lab.

Accepts every message on a loopback address and writes it, unchanged, to
DIR/<time>-<n>.eml (written to a temporary name, then renamed, so readers
never see a half-written file). Run with Debian's python3 (python3-aiosmtpd):

    /usr/bin/python3 tests/lab/smtp_sink.py --listen 127.0.0.1:2525 --dir tests/.lab/smtp
"""

import argparse
import itertools
import os
import signal
import threading
import time

from aiosmtpd.controller import Controller


class EmlHandler:
    def __init__(self, directory):
        self.directory = directory
        self.counter = itertools.count(1)
        os.makedirs(directory, exist_ok=True)

    async def handle_DATA(self, server, session, envelope):
        n = next(self.counter)
        name = "%s-%06d-%04d.eml" % (time.strftime("%Y%m%dT%H%M%S"), os.getpid(), n)
        path = os.path.join(self.directory, name)
        data = envelope.original_content or envelope.content
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        header = (
            "X-Lab-Mail-From: %s\r\nX-Lab-Rcpt-To: %s\r\n"
            % (envelope.mail_from, ", ".join(envelope.rcpt_tos))
        ).encode()
        tmp = path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(header + data)
        os.rename(tmp, path)
        print("stored %s from=%s to=%s" % (name, envelope.mail_from, envelope.rcpt_tos), flush=True)
        return "250 Message accepted for delivery"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", default="127.0.0.1:2525")
    ap.add_argument("--dir", required=True)
    args = ap.parse_args()
    host, port = args.listen.rsplit(":", 1)
    if host not in ("127.0.0.1", "::1", "localhost"):
        raise SystemExit("smtp_sink: refusing to listen on a non-loopback address: %s" % host)
    controller = Controller(EmlHandler(os.path.abspath(args.dir)), hostname=host, port=int(port))
    controller.start()
    print("smtp sink listening on %s, writing to %s" % (args.listen, args.dir), flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()
