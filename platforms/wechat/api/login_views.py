"""WeChat login and phone endpoints: the service owns the code exchanges."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from config.api import scopes
from config.api.views import ERRORS, ErrorOut, valid
from identity.api import serializers as s
from identity.api.representation import PersonApiView
from identity.services.phone import ON_CONFLICT_CHOICES
from platforms.wechat.services.logins import bind_wechat_phone, miniprogram_login, oauth_login


class CodeIn(serializers.Serializer):
    appid = s.StrictCharField(max_length=64)
    code = s.StrictCharField(max_length=512)


class PhoneCodeIn(CodeIn):
    person_id = s.StrictCharField(max_length=32)
    on_conflict = serializers.ChoiceField(choices=ON_CONFLICT_CHOICES, default="merge")


class _LoginView(PersonApiView):
    required_scopes = {"POST": scopes.IDENTITY_WRITE}
    login = None

    def post(self, request):
        data = valid(CodeIn, request.data)
        app = self.app(data["appid"])
        result = type(self).login(app=app, code=data["code"], actor=self.actor())
        person = self.read_person(result.person.public_id)
        return Response({"person": self.represent(person), "created": result.created})


class MiniProgramLoginView(_LoginView):
    login = staticmethod(miniprogram_login)

    @extend_schema(
        operation_id="wechat_miniprogram_login",
        request=CodeIn,
        responses={200: s.ResolveOut, 502: ErrorOut, **ERRORS},
        summary="Mini-program login: jscode2session, then resolve (session key kept here)",
    )
    def post(self, request):
        return super().post(request)


class OAuthLoginView(_LoginView):
    login = staticmethod(oauth_login)

    @extend_schema(
        operation_id="wechat_oauth_login",
        request=CodeIn,
        responses={200: s.ResolveOut, 502: ErrorOut, **ERRORS},
        summary="Service account / H5 web OAuth login, then resolve",
    )
    def post(self, request):
        return super().post(request)


class MiniProgramPhoneView(PersonApiView):
    required_scopes = {"POST": scopes.IDENTITY_WRITE}

    @extend_schema(
        operation_id="wechat_miniprogram_phone",
        request=PhoneCodeIn,
        responses={200: s.PersonOut, 502: ErrorOut, **ERRORS},
        summary="Bind the phone number behind a getPhoneNumber code",
    )
    def post(self, request):
        data = valid(PhoneCodeIn, request.data)
        app = self.app(data["appid"])
        person = self.visible_person(data["person_id"])
        holder = bind_wechat_phone(
            app=app,
            code=data["code"],
            person=person,
            on_conflict=data["on_conflict"],
            actor=self.actor(),
        )
        return Response(self.represent(self.read_person(holder.public_id)))
