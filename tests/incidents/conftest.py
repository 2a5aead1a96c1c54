"""Posts for escalation: who is Kapolres, who is Kabag Ops, who chairs the KPU — and a
province to escalate to."""

from __future__ import annotations

import io
from dataclasses import dataclass

import pytest
from PIL import Image

from siaga.accounts.choices import AgencyKind, Role
from siaga.accounts.models import Agency, AgencyUnit, Membership, User
from siaga.accounts.services import add_membership


@dataclass
class Posts:
    kapolres: User
    commissioner: User
    bawaslu: User
    kabag_ops: User
    ketua: User
    kapolda: User


def _person(username: str, unit: AgencyUnit, role: str, position: str) -> User:
    user = User.objects.create(username=username, first_name=username.split(".")[0].title())
    add_membership(actor=None, user=user, unit=unit, role=role)
    Membership.objects.filter(user=user, unit=unit).update(position=position)
    return user


@pytest.fixture
def posts(kapolres_okut: User, commissioner_okut: User, bawaslu_okut: User) -> Posts:
    Membership.objects.filter(user=kapolres_okut).update(position="Kapolres")
    Membership.objects.filter(user=commissioner_okut).update(position="Divisi Logistik")
    polres = AgencyUnit.objects.get(agency__kind=AgencyKind.POLRI, region_id="16.08")
    kpu = AgencyUnit.objects.get(agency__kind=AgencyKind.KPU, region_id="16.08")
    polda = AgencyUnit.objects.create(
        agency=Agency.objects.get(kind=AgencyKind.POLRI), region_id="16", name="Polda Sumsel"
    )
    return Posts(
        kapolres=kapolres_okut,
        commissioner=commissioner_okut,
        bawaslu=bawaslu_okut,
        kabag_ops=_person("kabagops.okut", polres, Role.POLICE_COMMANDER, "Kabag Ops"),
        ketua=_person("ketua.okut", kpu, Role.KPU_COMMISSIONER, "Ketua"),
        kapolda=_person("kapolda.sumsel", polda, Role.POLICE_COMMANDER, "Kapolda"),
    )


def jpeg(width: int = 64, height: int = 48, *, exif: bytes | None = None) -> bytes:
    out = io.BytesIO()
    image = Image.new("RGB", (width, height), (30, 90, 160))
    if exif is not None:
        image.save(out, "JPEG", exif=exif)
    else:
        image.save(out, "JPEG")
    return out.getvalue()
