"""The job kinds jobwatch knows. Adding one is a new module and one line here."""

from collector.kinds import command, external, python, scrape
from collector.kinds.base import Kind

KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        command.KIND,
        external.KIND,
        python.KIND,
        scrape.KIND,
    )
}
