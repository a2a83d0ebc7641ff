#pragma once

// The Lua side of the catalog's Redis store. Every script is the event publisher
// (events::kLuaPublish), then the catalog's library below, then its own body, so that the
// state change, the search indexes and the event are always one atomic step.
//
// Key layout (all under the catalog's prefix "cat:"; {r} rotation id, {s} session id):
//   cat:site:{id}                  serialized Site
//   cat:sites                      zset of site ids (score 0) for listing
//   cat:idem:site:{request}        site id created by that request id (24 h)
//   cat:rot:{r}                    hash: pb (serialized Rotation), etag, state, site (id),
//                                  tz (site time zone), ix (its index set keys, one per
//                                  line), fee (total cents)
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
//   cat:ses:closing                zset "{r}/{s}" -> close ms, sessions whose deadline has
//                                  not been processed yet (sweeper re-indexes the rotation)
// Search indexes, over PUBLISHED rotations only:
//   cat:idx:<term>                 set of rotation ids per search term (SearchTermsOf):
//                                  cat:idx:specialty:CARDIOLOGY, cat:idx:state:NY,
//                                  cat:idx:city:queens, cat:idx:visa:J1, ...
//   cat:idx:fee                    zset rotation -> fees.total_cents
//   cat:idx:start                  zset rotation -> earliest start day of its open sessions
//                                  (99999999 when it has none)
//   cat:idx:start_avail            zset rotation -> earliest start day of its open sessions
//                                  with a free seat (absent when none)
//   cat:idx:seats                  zset rotation -> -(free seats over its open sessions)
//   cat:idx:ses:start              zset "{r}/{s}" -> start day, open sessions
//   cat:idx:ses:avail              zset "{r}/{s}" -> start day, open sessions with a free seat
//   cat:ver                        change counter: incremented by every change of a
//                                  rotation, its sessions or their seats
//   cat:changed                    zset rotation id -> cat:ver of its latest change (what
//                                  the in-process RotationIndex re-reads)
//   cat:tmp:search:*               scratch keys of the search script, deleted before it ends
// Events: stream cat:events.

namespace clerkship::catalog::lua {

// Helpers every catalog script starts with (protobuf encoding for events built in Lua,
// seat counts, re-indexing, sweeping).
extern const char kLibrary[];

// Script bodies.
extern const char kCreateRotation[];
extern const char kGetRotation[];
extern const char kWriteRotation[];
extern const char kCreateSession[];
extern const char kGetSession[];
extern const char kUpdateSession[];
extern const char kListSessions[];
extern const char kSearch[];
extern const char kHoldSeat[];
extern const char kConfirmSeat[];
extern const char kReleaseSeat[];
extern const char kSeatInventory[];
extern const char kSweep[];
extern const char kIndexSync[];
extern const char kSweepAndVersion[];

}  // namespace clerkship::catalog::lua
