from django.urls import path

from . import views

urlpatterns = [
    path("api/demo/hello/", views.hello, name="demo-hello"),
    path("api/demo/echo/", views.echo, name="demo-echo"),
    path("api/demo/whoami/", views.whoami, name="demo-whoami"),
    path("api/demo/login/", views.login_cookie, name="demo-login"),
    path("api/demo/partner/", views.partner, name="demo-partner"),
    path("api/demo/stream/", views.stream, name="demo-stream"),
    path("api/demo/boom/", views.boom, name="demo-boom"),
    path("api/demo/pid/", views.pid, name="demo-pid"),
]
