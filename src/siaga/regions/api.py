from __future__ import annotations

from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from ninja import Router, Schema

from siaga.core.errors import NotFound
from siaga.core.schemas import ErrorOut
from siaga.regions.codes import parse_region_code
from siaga.regions.models import Region

router = Router(tags=["regions"])


class RegionRef(Schema):
    code: str
    name: str
    level: int
    kind: str


class RegionOut(RegionRef):
    display_name: str
    postal_code: str
    active: bool
    ancestors: list[RegionRef]
    children: list[RegionRef]


def _ref(region: Region) -> RegionRef:
    return RegionRef(code=region.code, name=region.name, level=region.level, kind=region.kind)


@router.get("", response=list[RegionRef], auth=None, summary="The 38 provinces")
def list_provinces(request: HttpRequest) -> list[RegionRef]:
    return [_ref(r) for r in Region.objects.filter(level=1)]


@router.get(
    "/{code}",
    response={200: RegionOut, 400: ErrorOut, 404: ErrorOut},
    auth=None,
    summary="A region with its ancestors and children",
)
def get_region(request: HttpRequest, code: str) -> RegionOut:
    code = parse_region_code(code)
    region = Region.objects.filter(code=code).first()
    if region is None:
        raise NotFound("region_not_found", _("No region has this code."), detail={"code": code})
    return RegionOut(
        code=region.code,
        name=region.name,
        level=region.level,
        kind=region.kind,
        display_name=region.display_name,
        postal_code=region.postal_code,
        active=region.active,
        ancestors=[_ref(r) for r in region.ancestors()],
        children=[_ref(r) for r in region.children.order_by("code")],
    )
