"""The probes jobwatch knows; adding one is a module and one line here.

The config loader builds the ``probes:`` section from this registry, so each name is
also the probe's YAML key, its ``probe`` metric label and its ``probe:<name>`` task.
"""

from collector.probes.base import Probe
from collector.probes.streams import StreamsProbe
from collector.probes.warp import WarpProbe

PROBES: dict[str, type[Probe]] = {
    StreamsProbe.name: StreamsProbe,
    WarpProbe.name: WarpProbe,
}
