"""App 3: Django REST Framework as its tutorial writes it: ``ModelSerializer`` with a nested serializer,
generic views, a pagination class (here for fastmango's ``{items, next, limit}`` page shape)."""

from __future__ import annotations

from typing import Any

from django.http import JsonResponse
from django.urls import path
from rest_framework import generics, serializers
from rest_framework.decorators import api_view
from rest_framework.exceptions import ValidationError
from rest_framework.filters import OrderingFilter, SearchFilter
from rest_framework.pagination import BasePagination, LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response

from tools.bench.http import common
from tools.bench.http.django_site.models import Author, Book


class AuthorSerializer(serializers.ModelSerializer):
    class Meta:
        model = Author
        fields = ["id", "name"]


class BookSerializer(serializers.ModelSerializer):
    author_id = serializers.IntegerField(min_value=common.INT32_MIN, max_value=common.INT32_MAX)
    author = AuthorSerializer(read_only=True)

    class Meta:
        model = Book
        fields = ["id", "title", "pages", "published", "author_id", "author"]


class CursorPage(BasePagination):
    """The first ``limit`` rows and a cursor to the next page (fetches one row more to know)."""

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> list[Any]:
        self.limit = int(request.query_params.get("limit", common.LIST_LIMIT))
        self.rows = list(queryset[: self.limit + 1])
        return self.rows[: self.limit]

    def get_paginated_response(self, data: Any) -> Response:
        following = common.encode_cursor(self.rows[self.limit - 1].pk) if len(self.rows) > self.limit else None
        return Response({"items": data, "next": following, "limit": self.limit})


class CatalogPage(LimitOffsetPagination):
    """``{items, total, limit, offset}``: DRF's limit/offset pagination (a COUNT and a page) in fastmango's shape."""

    default_limit = common.LIST_LIMIT
    max_limit = common.MAX_LIMIT

    def get_paginated_response(self, data: Any) -> Response:
        return Response({"items": data, "total": self.count, "limit": self.limit, "offset": self.offset})


class StableOrdering(OrderingFilter):
    """DRF's ordering filter with the primary key as tie-breaker, so that pages do not overlap."""

    def get_ordering(self, request: Request, queryset: Any, view: Any) -> list[str]:
        ordering = list(super().get_ordering(request, queryset, view) or [])
        return ordering if any(field.lstrip("-") == "id" for field in ordering) else [*ordering, "id"]

    def get_default_ordering(self, view: Any) -> list[str]:
        return ["id"]

    def remove_invalid_fields(self, queryset: Any, fields: Any, view: Any, request: Request) -> list[str]:
        valid = super().remove_invalid_fields(queryset, fields, view, request)
        if len(valid) != len([field for field in fields if field]):
            raise ValidationError({"ordering": f"allowed: {', '.join(common.CATALOG_ORDERING)}"})
        return list(valid)


class Catalog(generics.ListAPIView):
    """Filtered against a query parameter as DRF's filtering guide shows, searched and ordered by its filters."""

    serializer_class = BookSerializer
    pagination_class = CatalogPage
    filter_backends = [SearchFilter, StableOrdering]
    search_fields = [common.CATALOG_SEARCH]
    ordering_fields = list(common.CATALOG_ORDERING)

    def get_queryset(self) -> Any:
        queryset = Book.objects.select_related("author")
        author_id = self.request.query_params.get(common.CATALOG_FILTER)
        if author_id is not None:
            value = serializers.IntegerField(min_value=common.INT32_MIN, max_value=common.INT32_MAX)
            queryset = queryset.filter(author_id=value.run_validation(author_id))
        return queryset


class BookList(generics.ListCreateAPIView):
    queryset = Book.objects.select_related("author").order_by("id")
    serializer_class = BookSerializer
    pagination_class = CursorPage


class BookDetail(generics.RetrieveAPIView):
    queryset = Book.objects.select_related("author")
    serializer_class = BookSerializer


@api_view(["GET"])
def hello(request: Request) -> Response:
    return Response(common.HELLO)


def health(request: Any) -> JsonResponse:
    return JsonResponse({"status": "ok"})


urlpatterns = [
    path("health", health),
    path("hello", hello),
    path("books", BookList.as_view()),
    path("books/<int:pk>", BookDetail.as_view()),
    path(common.CATALOG_PATH.lstrip("/"), Catalog.as_view()),
]
