"""No URLs: the benchmarks call middleware and views directly."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
