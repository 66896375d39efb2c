"""The two tables as Django models (created by the harness, hence ``managed = False``)."""

from __future__ import annotations

from django.db import models

from tools.bench.http import common


class Author(models.Model):
    name = models.CharField(max_length=common.NAME_MAX_LENGTH)

    class Meta:
        db_table = common.AUTHOR_TABLE
        managed = False


class Book(models.Model):
    title = models.CharField(max_length=common.TITLE_MAX_LENGTH)
    pages = models.IntegerField()
    published = models.DateField(db_index=True)
    author = models.ForeignKey(Author, on_delete=models.PROTECT)

    class Meta:
        db_table = common.BOOK_TABLE
        managed = False
