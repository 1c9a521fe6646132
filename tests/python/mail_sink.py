"""A real SMTP server (aiosmtpd) and a webhook receiver on loopback for the alerts tests.

Every message received is written as one JSON file into OUT_DIR (envelope sender, recipients,
raw message); every webhook POST likewise. Prints one line `{"smtp": PORT, "http": PORT}` once
both listen, then serves until killed.
"""
import json
import os
import socket
import sys
import threading
import time
import uuid
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, HTTPServer

from aiosmtpd.controller import Controller

OUT = sys.argv[1]


def save(kind, record):
    path = os.path.join(OUT, f"{kind}-{time.time_ns()}-{uuid.uuid4().hex}.json")
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        json.dump(record, f)
    os.rename(path + ".tmp", path)


class Mail:
    async def handle_DATA(self, server, session, envelope):
        msg = message_from_bytes(envelope.content, policy=policy.default)
        save("mail", {"from": envelope.mail_from, "to": envelope.rcpt_tos,
                      "header_to": str(msg["To"]), "subject": str(msg["Subject"]),
                      "body": msg.get_body(("plain",)).get_content()})
        return "250 Message accepted"


class Hook(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        save("webhook", {"path": self.path, "body": json.loads(body)})
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


smtp_port = free_port()
controller = Controller(Mail(), hostname="127.0.0.1", port=smtp_port)
controller.start()
http = HTTPServer(("127.0.0.1", 0), Hook)
threading.Thread(target=http.serve_forever, daemon=True).start()
print(json.dumps({"smtp": smtp_port, "http": http.server_address[1]}), flush=True)
while True:
    time.sleep(3600)
