/* SPDX-License-Identifier: MIT */
/*
 * iovamap/export.h - the one export macro.
 *
 * The library is built with -fvisibility=hidden; only declarations marked
 * IVM_API are visible to programs that link it.  Nothing else in the public
 * headers carries visibility attributes.
 */
#ifndef IOVAMAP_EXPORT_H
#define IOVAMAP_EXPORT_H

#if defined(IVM_BUILDING_LIBRARY) && defined(__GNUC__)
#define IVM_API __attribute__((visibility("default")))
#else
#define IVM_API
#endif

#endif /* IOVAMAP_EXPORT_H */
