// Registers loadModel() and the Session class on the addon's exports (session.cpp).
#pragma once

#include <napi.h>

namespace tunesmith {
void init_session(Napi::Env env, Napi::Object exports);
}
