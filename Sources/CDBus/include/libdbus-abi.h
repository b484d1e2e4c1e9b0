// The part of libdbus-1's public interface capdeck uses, declared here rather than taken from
// <dbus/dbus.h>: libdbus's headers live in /usr/include/dbus-1.0 and the arch's dbus-1.0/include,
// which only pkg-config knows, and a package that needs -I flags (unsafeFlags) can't be a SwiftPM
// dependency by version. Each declaration is copied from libdbus's headers (D-Bus 1.14, bookworm),
// with no nullability, as there; Tests/CaptureDBusTests/LibdbusDeclarationTests.swift compiles
// against both and compares the layouts, the values and the functions' types.
//
// What may be copied is what libdbus keeps stable: libdbus-1.so.3 has had its soname since 2006
// (D-Bus 1.0), so its public structs, which callers put on the stack, and the protocol's constants
// can't change without a new soname.
#ifndef CAPDECK_LIBDBUS_ABI_H
#define CAPDECK_LIBDBUS_ABI_H

// dbus-arch-deps.h, as it is generated on every Linux arch Debian builds (an int of 32 bits);
// dbus-types.h.
typedef unsigned int dbus_uint32_t;
typedef dbus_uint32_t dbus_bool_t;

// dbus-connection.h, dbus-message.h: opaque to callers.
typedef struct DBusConnection DBusConnection;
typedef struct DBusMessage DBusMessage;

// dbus-errors.h.
typedef struct DBusError DBusError;
struct DBusError
{
  const char *name;    /**< public error name field */
  const char *message; /**< public error message field */

  unsigned int dummy1 : 1; /**< placeholder */
  unsigned int dummy2 : 1; /**< placeholder */
  unsigned int dummy3 : 1; /**< placeholder */
  unsigned int dummy4 : 1; /**< placeholder */
  unsigned int dummy5 : 1; /**< placeholder */

  void *padding1; /**< placeholder */
};

// dbus-message.h.
typedef struct DBusMessageIter DBusMessageIter;
struct DBusMessageIter
{
  void *dummy1;         /**< Don't use this */
  void *dummy2;         /**< Don't use this */
  dbus_uint32_t dummy3; /**< Don't use this */
  int dummy4;           /**< Don't use this */
  int dummy5;           /**< Don't use this */
  int dummy6;           /**< Don't use this */
  int dummy7;           /**< Don't use this */
  int dummy8;           /**< Don't use this */
  int dummy9;           /**< Don't use this */
  int dummy10;          /**< Don't use this */
  int dummy11;          /**< Don't use this */
  int pad1;             /**< Don't use this */
  void *pad2;           /**< Don't use this */
  void *pad3;           /**< Don't use this */
};

// dbus-shared.h.
typedef enum
{
  DBUS_HANDLER_RESULT_HANDLED,
  DBUS_HANDLER_RESULT_NOT_YET_HANDLED,
  DBUS_HANDLER_RESULT_NEED_MEMORY
} DBusHandlerResult;

#define DBUS_NAME_FLAG_ALLOW_REPLACEMENT 0x1
#define DBUS_NAME_FLAG_REPLACE_EXISTING  0x2
#define DBUS_NAME_FLAG_DO_NOT_QUEUE      0x4

#define DBUS_REQUEST_NAME_REPLY_PRIMARY_OWNER  1
#define DBUS_REQUEST_NAME_REPLY_EXISTS         3
#define DBUS_REQUEST_NAME_REPLY_ALREADY_OWNER  4

// dbus-protocol.h.
#define DBUS_TYPE_INVALID       ((int) '\0')
#define DBUS_TYPE_BOOLEAN       ((int) 'b')
#define DBUS_TYPE_INT32         ((int) 'i')
#define DBUS_TYPE_UINT32        ((int) 'u')
#define DBUS_TYPE_STRING        ((int) 's')
#define DBUS_TYPE_ARRAY         ((int) 'a')
#define DBUS_TYPE_VARIANT       ((int) 'v')
#define DBUS_TYPE_DICT_ENTRY    ((int) 'e')

#define DBUS_MESSAGE_TYPE_METHOD_CALL   1

// dbus-memory.h, dbus-connection.h.
typedef void (* DBusFreeFunction) (void *memory);
typedef DBusHandlerResult (* DBusHandleMessageFunction) (DBusConnection     *connection,
                                                         DBusMessage        *message,
                                                         void               *user_data);
#endif
