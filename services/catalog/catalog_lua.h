#pragma once

// The Lua side of the catalog's Redis store. Every script is the event publisher
// (events::kLuaPublish), then the catalog's library below, then its own body, so that the
// state change, the change log that the in-process index follows and the event are always
// one atomic step.
//
// Key layout (all under the catalog's prefix "cat:"; {r} rotation id, {s} session id):
//   cat:site:{id}                  serialized Site
//   cat:sites                      zset of site ids (score 0) for listing
//   cat:idem:site:{request}        site id created by that request id (24 h)
//   cat:rot:{r}                    hash: pb (serialized Rotation), etag, state, site (id),
//                                  tz (site time zone), ix (its search terms, one per
//                                  line, as cat:idx:<term>), fee (total cents)
//   cat:rots                       zset of every rotation id (score 0)
//   cat:rot:{r}:sessions           zset of the rotation's session ids by start day
//   cat:idem:rot:{site}:{request}  rotation id created by that request id at that site (24 h)
//   cat:ses:{r}:{s}                hash: pb (serialized Session without counts), etag,
//                                  start (day number), close (ms when applications close),
//                                  capacity, confirmed (count), site (id)
//   cat:idem:ses:{r}:{request}     session id created by that request id (24 h)
//   cat:seat:{r}:{s}:holders       hash holder -> "H <hold ms> <expire ms>" or
//                                  "C <hold ms> <confirm ms>"
//   cat:seat:{r}:{s}:expiry        zset holder -> expire ms, live and lapsed-unswept holds
//   cat:seat:{r}:{s}:expired       hash holder -> expire ms of holds that lapsed (so that
//                                  ConfirmSeat can say HOLD_EXPIRED)
//   cat:holds                      zset "{r}:{s}:{holder}" -> expire ms, every hold (sweeper)
//   cat:ver                        change counter: incremented by every change of a
//                                  rotation, its sessions or their seats
//   cat:changed                    zset rotation id -> cat:ver of its latest change (what
//                                  the in-process RotationIndex re-reads)
// Searches are answered in process (RotationIndex), so Redis keeps no search indexes; the
// search terms (SearchTermsOf: specialty:CARDIOLOGY, state:NY, city:queens, visa:J1, ...)
// are stored with the rotation for the index to read.
// Events: stream cat:events.

namespace clerkship::catalog::lua {

// Helpers every catalog script starts with (protobuf encoding for events built in Lua,
// seat counts, the change log, sweeping).
extern const char kLibrary[];

// Script bodies.
extern const char kCreateRotation[];
extern const char kGetRotation[];
extern const char kWriteRotation[];
extern const char kCreateSession[];
extern const char kGetSession[];
extern const char kUpdateSession[];
extern const char kListSessions[];
extern const char kHoldSeat[];
extern const char kConfirmSeat[];
extern const char kReleaseSeat[];
extern const char kSeatInventory[];
extern const char kSweep[];
extern const char kIndexSync[];
extern const char kSweepAndVersion[];

}  // namespace clerkship::catalog::lua
