"""`gunwatch train import-external`: a licensed data set from a mirrored public repository into
the darknet layout (training/data/external.py). Its own module so that train.py only registers it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import ConfigError

IMPORT = """\
Import a labelled data set that was committed to a public git repository (a Roboflow export)
from a bare mirror of it (`git clone --mirror`, or the library's fetch), reading the objects
with git: no work tree, the exact commit recorded.

SOURCE is a known source ({known}) or any name with --root and --gun-classes / --gun-free.
The license must be stated in the export (README.dataset.txt, data.yaml's license:, LICENSE):
CC BY, CC BY-SA, CC0, public domain, MIT or Apache; none, NC, ND or private is refused.

Gun sources keep the gun classes' boxes as class 0 and drop pictures with a gun-like class we
cannot map (weapon, rifle); gun-free sources write empty labels and drop any picture with a gun
or gun-like box or a weapon word in its file name. ~15 % of the source pictures are held back
by a hash of their source name (augmented copies stay together).

OUT gets images/{{train,heldout}}/, labels/{{train,heldout}}/, train.txt, heldout.txt,
splits.csv and PROVENANCE.md (repository, commit, license and where it is stated, counts).
Never commit those pictures. A gun-free OUT joins a data set with
`gunwatch train prepare DATA PREPARED --negatives OUT/images/train`."""

EXAMPLES = """\
examples:
  gunwatch train import-external cctv-people /work/.mirror/madeelworks+Weapon-Detection/repo \\
      /var/tmp/gunwatch-data/cctv-people
  gunwatch train import-external my-guns MIRROR.git out/my-guns --root export --gun-classes pistol,gun

exit status: 0 written, 2 refused (license, layout, nothing kept: the message says which)."""


def add_import_parser(verbs) -> None:
    from ..training.data.external import SOURCES

    p = verbs.add_parser("import-external", help="a licensed data set from a mirrored public repository",
                         description=IMPORT.format(known=", ".join(SOURCES)), epilog=EXAMPLES,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("source", metavar="SOURCE", help="known source name, or a new name with --root")
    p.add_argument("mirror", type=Path, metavar="MIRROR_GIT_DIR", help="bare git repository of the source")
    p.add_argument("out", type=Path, metavar="OUT_DIR", help="new folder to write")
    p.add_argument("--commit", default="HEAD", help="commit to read (default HEAD)")
    p.add_argument("--root", metavar="PATH", help="folder of the export inside the repository")
    p.add_argument("--repo", metavar="OWNER/NAME", help="repository name for PROVENANCE.md")
    kind = p.add_mutually_exclusive_group()
    kind.add_argument("--gun-classes", metavar="A,B", help="class names whose boxes become class 0")
    kind.add_argument("--gun-free", action="store_true", help="take the pictures as gun-free (empty labels)")
    p.add_argument("--drop-classes", metavar="A,B", help="also leave out pictures with these classes")
    p.set_defaults(run=run_import)


def _names(value: str | None) -> tuple[str, ...]:
    return tuple(n.strip().lower() for n in value.split(",") if n.strip()) if value else ()


def run_import(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from ..training.data.external import SOURCES, Source, import_source, summary

    source = SOURCES.get(args.source)
    if source is None:
        if args.root is None or not (args.gun_classes or args.gun_free):
            raise ConfigError(f"{args.source}: not a known source ({', '.join(SOURCES)}); a new one "
                              "needs --root and --gun-classes or --gun-free")
        source = Source(name=args.source, repo=args.repo or "(not given)", root=args.root,
                        gun_free=args.gun_free, gun_classes=_names(args.gun_classes),
                        drop_classes=_names(args.drop_classes))
    else:
        changes = {"root": args.root, "repo": args.repo}
        source = replace(source, **{k: v for k, v in changes.items() if v is not None})
        if args.gun_classes or args.gun_free or args.drop_classes:
            raise ConfigError(f"{args.source} is a known source: its classes are fixed "
                              "(training/data/external.py SOURCES)")
    try:
        result = import_source(source, args.mirror, args.out, commit=args.commit)
    except OSError as exc:
        raise ConfigError(str(exc)) from exc
    print(summary(result), file=sys.stderr)
    print(args.out / "PROVENANCE.md")
    return 0
