"""Hand-written endpoints of blog."""

from fastapi import APIRouter, Request

router = APIRouter(tags=["blog"])


@router.get("/hello", operation_id="hello")
async def hello(request: Request) -> dict[str, str]:
    """Say hello."""
    return {"message": request.app.settings.greeting}
