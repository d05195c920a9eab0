"""A real SMTP server for the integration tests (aiosmtpd, Debian package python3-aiosmtpd).

Usage: server.py DIR MODE [USER:PASSWORD]
  DIR   folder where each accepted message is written as N.eml
  MODE  accept | tempfail (451 to DATA) | permfail (550 to DATA)
  USER:PASSWORD  require SMTP AUTH (PLAIN/LOGIN) with these credentials
Prints "READY <port>" once listening on 127.0.0.1, then serves until killed.
"""
import os
import socket
import sys
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Handler:
    def __init__(self, folder, mode):
        self.folder = folder
        self.mode = mode
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        if self.mode == "tempfail":
            return "451 4.3.0 Mailbox temporarily unavailable, try again later"
        if self.mode == "permfail":
            return "550 5.7.1 Relaying denied for this sender"
        self.count += 1
        path = os.path.join(self.folder, f"{self.count}.eml")
        with open(path + ".tmp", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        os.rename(path + ".tmp", path)
        return f"250 2.0.0 Ok: queued as test-{self.count}"


def authenticator(expected):
    def check(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and (
            auth_data.login.decode(), auth_data.password.decode()) == expected
        # handled=False: let the server answer 535 itself (the default leaves the client waiting).
        return AuthResult(success=ok, handled=False)
    return check


def main():
    folder, mode = sys.argv[1], sys.argv[2]
    kwargs = {}
    if len(sys.argv) > 3:
        user, password = sys.argv[3].split(":", 1)
        kwargs = dict(authenticator=authenticator((user, password)), auth_require_tls=False, auth_required=True)
    # The controller cannot listen on port 0 (it probes its own port), so pick a free one.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Handler(folder, mode), hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    print(f"READY {port}", flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
