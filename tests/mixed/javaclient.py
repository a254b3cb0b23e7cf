"""The real Java client (Debian's ZooKeeper 3.8 jar) as a writer in the mixed tests:
tests/java/MixedWriter.java, compiled at test time and cached by source hash in
tests/.work/java (as tests/reference/test_java_client.py does for KafkaFlows.java)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from tests.servers import JAVA_CLASSPATH, compile_java

TESTS = Path(__file__).resolve().parent.parent
SOURCE = TESTS / "java" / "MixedWriter.java"
RUN_CP = JAVA_CLASSPATH + ":/usr/share/java/slf4j-api.jar"


def compiled_classes() -> Path:
    """Directory holding MixedWriter.class for the current source, compiling once per hash."""
    return compile_java(SOURCE, "MixedWriter", "MixedWriter-")


@dataclass
class JavaReport:
    """What MixedWriter printed."""
    sessions: list[str] = field(default_factory=list)  # "SESSION" lines: exactly one expected
    final_session: str = ""
    expired: bool = True
    acked: list[str] = field(default_factory=list)
    unknown: int = 0
    states: list[str] = field(default_factory=list)
    set_versions: list[int] = field(default_factory=list)
    text: str = ""


class JavaWriter:
    """MixedWriter in its own JVM with one session on `hosts` for the whole test; `stop()`
    tells it to finish (a line on stdin) and parses what it printed."""

    def __init__(self, hosts: str, workdir: Path, parent: str = "/jw",
                 timeout_ms: int = 4000) -> None:
        classes = compiled_classes()
        self.out_path = workdir / "java-writer.out"
        self._out = open(self.out_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            ["java", "-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
             "-cp", f"{RUN_CP}:{classes}", "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
             "MixedWriter", hosts, parent, str(timeout_ms)],
            stdin=subprocess.PIPE, stdout=self._out, stderr=subprocess.STDOUT,
            start_new_session=True)

    def text(self) -> str:
        try:
            return self.out_path.read_text(errors="replace")
        except OSError:
            return ""

    def acked_count(self) -> int:
        return sum(1 for line in self.text().splitlines() if line.startswith("ACK "))

    def stop(self, timeout: float = 30.0) -> JavaReport:
        if self.proc.poll() is None:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.write(b"stop\n")
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)
        self._out.close()
        return parse(self.text())


def parse(text: str) -> JavaReport:
    rep = JavaReport(text=text)
    for line in text.splitlines():
        word, _, rest = line.partition(" ")
        if word == "SESSION":
            rep.sessions.append(rest.split()[0])
        elif word == "STATE":
            rep.states.append(rest)
        elif word == "ACK":
            rep.acked.append(rest)
        elif word == "UNKNOWN":
            rep.unknown += 1
        elif word == "SETDATA":
            rep.set_versions.append(int(rest))
        elif word == "FINAL":
            parts = rest.split()
            rep.final_session = parts[0]
            rep.expired = "expired=true" in parts
    return rep
