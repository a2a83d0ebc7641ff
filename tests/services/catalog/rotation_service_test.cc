// Rotations and sessions through a real in-process server and a real Redis: creation and
// idempotency, validation, visibility and authorization, the publish/archive rules,
// update masks and etags, live seat figures, and the events they emit.

#include <gmock/gmock.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <cstring>
#include <set>
#include <thread>

#include "grpcpp/generic/generic_stub.h"
#include "tests/services/catalog/catalog_test_env.h"

namespace clerkship::catalog {
namespace {

using ::testing::ElementsAre;
using testing::ReasonOf;
using testing::SetIdentity;
using testing::ViolatedFields;

class RotationServiceTest : public CatalogTestEnv {
 protected:
  void SetUp() override {
    CatalogTestEnv::SetUp();
    MakeSite("site", SiteIn("Queens", "NY"));
    MakeSite("other", SiteIn("Houston", "TX", "America/Chicago"));
  }

  grpc::Status CreateAs(grpc::ClientContext* context, const v1::Rotation& rotation,
                        v1::Rotation* out, const std::string& id = "",
                        const std::string& request_id = "") {
    v1::CreateRotationRequest request;
    *request.mutable_rotation() = rotation;
    request.set_rotation_id(id);
    request.set_request_id(request_id);
    return catalog_->CreateRotation(context, request, out);
  }

  grpc::Status Create(const v1::Rotation& rotation, v1::Rotation* out,
                      const std::string& id = "", const std::string& request_id = "") {
    grpc::ClientContext context;
    testing::AsAdmin(&context);
    return CreateAs(&context, rotation, out, id, request_id);
  }

  grpc::Status Get(const std::string& name, v1::Rotation* out,
                   std::function<void(grpc::ClientContext*)> as = nullptr) {
    grpc::ClientContext context;
    if (as) as(&context);
    v1::GetRotationRequest request;
    request.set_name(name);
    return catalog_->GetRotation(&context, request, out);
  }

  grpc::Status Update(const v1::Rotation& patch, std::vector<std::string> paths,
                      v1::Rotation* out) {
    grpc::ClientContext context;
    testing::AsAdmin(&context);
    v1::UpdateRotationRequest request;
    *request.mutable_rotation() = patch;
    for (auto& p : paths) request.mutable_update_mask()->add_paths(p);
    return catalog_->UpdateRotation(&context, request, out);
  }

  grpc::Status Archive(const std::string& id, v1::Rotation* out = nullptr,
                       const std::string& etag = "") {
    grpc::ClientContext context;
    testing::AsAdmin(&context);
    v1::ArchiveRotationRequest request;
    request.set_name("rotations/" + id);
    request.set_etag(etag);
    v1::Rotation ignored;
    return catalog_->ArchiveRotation(&context, request, out ? out : &ignored);
  }

  grpc::Status UpdateSessionWith(const v1::Session& patch, std::vector<std::string> paths,
                                 v1::Session* out) {
    grpc::ClientContext context;
    testing::AsAdmin(&context);
    v1::UpdateSessionRequest request;
    *request.mutable_session() = patch;
    for (auto& p : paths) request.mutable_update_mask()->add_paths(p);
    return catalog_->UpdateSession(&context, request, out);
  }

  v1::ListSessionsResponse List(const std::string& rotation_id, int page_size,
                                const std::string& token = "", bool open_only = false,
                                grpc::Status* status = nullptr) {
    grpc::ClientContext context;
    v1::ListSessionsRequest request;
    request.set_parent("rotations/" + rotation_id);
    request.set_page_size(page_size);
    request.set_page_token(token);
    request.set_open_only(open_only);
    v1::ListSessionsResponse out;
    grpc::Status s = catalog_->ListSessions(&context, request, &out);
    if (status) {
      *status = s;
    } else {
      EXPECT_TRUE(s.ok()) << s.error_message();
    }
    return out;
  }
};

TEST_F(RotationServiceTest, CreateComputesTotalsAndCopiesTheSite) {
  v1::Rotation input = ValidRotation("sites/site");
  input.mutable_fees()->set_total_cents(1);  // output only: ignored
  input.set_title("  Inpatient Medicine  ");
  input.set_state(v1::Rotation::PUBLISHED);  // output only: ignored
  v1::Rotation created;
  ASSERT_TRUE(Create(input, &created, "im-queens").ok());
  EXPECT_EQ(created.name(), "rotations/im-queens");
  EXPECT_EQ(created.title(), "Inpatient Medicine");
  EXPECT_EQ(created.fees().total_cents(), 250000 + 10000 + 5000 + 15000 + 120000);
  EXPECT_EQ(created.state(), v1::Rotation::DRAFT);
  EXPECT_EQ(created.site_display_name(), "General Hospital of Queens");
  EXPECT_EQ(created.city(), "Queens");
  EXPECT_EQ(created.us_state(), "NY");
  EXPECT_EQ(FromProtoTime(created.create_time()), TestEpoch());
  EXPECT_FALSE(created.has_publish_time());
  EXPECT_FALSE(created.etag().empty());
  EXPECT_TRUE(created.next_start_date().empty());
  EXPECT_EQ(created.seats_available(), 0);

  v1::Rotation fetched;
  ASSERT_TRUE(Get("rotations/im-queens", &fetched, testing::AsAdmin).ok());
  EXPECT_EQ(fetched.SerializeAsString(), created.SerializeAsString());

  // Unknown site; taken id.
  v1::Rotation out;
  grpc::Status s = Create(ValidRotation("sites/nowhere"), &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(ReasonOf(s), "SITE_NOT_FOUND");
  s = Create(ValidRotation("sites/site"), &out, "im-queens");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(ReasonOf(s), "ROTATION_EXISTS");
}

TEST_F(RotationServiceTest, RequestIdsMakeCreationIdempotent) {
  v1::Rotation first, second, third;
  ASSERT_TRUE(Create(ValidRotation("sites/site"), &first, "", "req-1").ok());
  ASSERT_TRUE(Create(ValidRotation("sites/site"), &second, "", "req-1").ok());
  EXPECT_EQ(first.name(), second.name());
  EXPECT_EQ(redis_server_->Command({"ZCARD", "cat:rots"}), "1");
  ASSERT_TRUE(Create(ValidRotation("sites/site"), &third, "", "req-2").ok());
  EXPECT_NE(third.name(), first.name());

  std::string rotation_id = first.name().substr(strlen("rotations/"));
  auto create_session = [&](const std::string& request_id, v1::Session* out) {
    grpc::ClientContext context;
    testing::AsAdmin(&context);
    v1::CreateSessionRequest request;
    request.set_parent(first.name());
    *request.mutable_session() = ValidSession(30);
    request.set_request_id(request_id);
    return catalog_->CreateSession(&context, request, out);
  };
  v1::Session s1, s2;
  ASSERT_TRUE(create_session("sess-req", &s1).ok());
  ASSERT_TRUE(create_session("sess-req", &s2).ok());
  EXPECT_EQ(s1.name(), s2.name());
  EXPECT_EQ(redis_server_->Command({"ZCARD", "cat:rot:" + rotation_id + ":sessions"}), "1");
  EXPECT_EQ(EventsOfType("session.created").size(), 1u);
}

TEST_F(RotationServiceTest, EveryInvalidRotationFieldIsNamed) {
  struct Case {
    std::string field;
    std::function<void(v1::CreateRotationRequest*)> spoil;
  };
  auto rot = [](v1::CreateRotationRequest* r) { return r->mutable_rotation(); };
  std::vector<Case> cases = {
      {"rotation", [](auto* r) { r->clear_rotation(); }},
      {"rotation.site", [&](auto* r) { rot(r)->set_site(""); }},
      {"rotation.site", [&](auto* r) { rot(r)->set_site("hospitals/x"); }},
      {"rotation.title", [&](auto* r) { rot(r)->set_title("   "); }},
      {"rotation.title", [&](auto* r) { rot(r)->set_title(std::string(201, 'x')); }},
      {"rotation.description", [&](auto* r) { rot(r)->set_description(std::string(10001, 'x')); }},
      {"rotation.specialty", [&](auto* r) { rot(r)->clear_specialty(); }},
      {"rotation.specialty",
       [&](auto* r) { rot(r)->set_specialty(static_cast<type::v1::Specialty>(999)); }},
      {"rotation.experience_type", [&](auto* r) { rot(r)->clear_experience_type(); }},
      {"rotation.setting", [&](auto* r) { rot(r)->clear_setting(); }},
      {"rotation.hands_on.students_per_preceptor",
       [&](auto* r) { rot(r)->mutable_hands_on()->set_students_per_preceptor(51); }},
      {"rotation.duration_weeks", [&](auto* r) { rot(r)->set_duration_weeks(0); }},
      {"rotation.duration_weeks", [&](auto* r) { rot(r)->set_duration_weeks(53); }},
      {"rotation.fees.program_fee_cents",
       [&](auto* r) { rot(r)->mutable_fees()->set_program_fee_cents(-1); }},
      {"rotation.fees.application_fee_cents",
       [&](auto* r) { rot(r)->mutable_fees()->set_application_fee_cents(10'000'001); }},
      {"rotation.fees.background_check_cents",
       [&](auto* r) { rot(r)->mutable_fees()->set_background_check_cents(-5); }},
      {"rotation.fees.malpractice_insurance_cents",
       [&](auto* r) { rot(r)->mutable_fees()->set_malpractice_insurance_cents(-5); }},
      {"rotation.fees.housing_estimate_cents",
       [&](auto* r) { rot(r)->mutable_fees()->set_housing_estimate_cents(20'000'000); }},
      {"rotation.refund_policy", [&](auto* r) { rot(r)->clear_refund_policy(); }},
      {"rotation.stipend_cents", [&](auto* r) { rot(r)->set_stipend_cents(-1); }},
      {"rotation.eligibility.allowed_training_stages",
       [&](auto* r) {
         rot(r)->mutable_eligibility()->add_allowed_training_stages(type::v1::STUDENT);
       }},
      {"rotation.eligibility.allowed_training_stages",
       [&](auto* r) {
         rot(r)->mutable_eligibility()->add_allowed_training_stages(
             type::v1::TRAINING_STAGE_UNSPECIFIED);
       }},
      {"rotation.eligibility.min_step2ck_score",
       [&](auto* r) { rot(r)->mutable_eligibility()->set_min_step2ck_score(301); }},
      {"rotation.eligibility.accepted_visa_statuses",
       [&](auto* r) {
         rot(r)->mutable_eligibility()->add_accepted_visa_statuses(type::v1::J1);
         rot(r)->mutable_eligibility()->add_accepted_visa_statuses(type::v1::J1);
       }},
      {"rotation.eligibility.max_years_since_graduation",
       [&](auto* r) { rot(r)->mutable_eligibility()->set_max_years_since_graduation(51); }},
      {"rotation.required_documents",
       [&](auto* r) { rot(r)->add_required_documents(type::v1::CV); }},
      {"rotation.required_documents",
       [&](auto* r) { rot(r)->add_required_documents(type::v1::DOCUMENT_KIND_UNSPECIFIED); }},
      {"rotation.supervising_physician",
       [&](auto* r) { rot(r)->set_supervising_physician(std::string(201, 'x')); }},
      {"rotation_id", [](auto* r) { r->set_rotation_id("Has Caps"); }},
      {"request_id", [](auto* r) { r->set_request_id("bad request id!"); }},
  };
  for (const Case& c : cases) {
    v1::CreateRotationRequest request;
    *request.mutable_rotation() = ValidRotation("sites/site");
    c.spoil(&request);
    grpc::ClientContext context;
    testing::AsAdmin(&context);
    v1::Rotation out;
    grpc::Status s = catalog_->CreateRotation(&context, request, &out);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.field;
    EXPECT_EQ(ViolatedFields(s), std::set<std::string>{c.field}) << c.field << ": "
                                                                  << s.error_message();
  }

  // Observerships and shadowing are observation only.
  v1::Rotation observe = ValidRotation("sites/site");
  observe.set_experience_type(type::v1::SHADOWING);
  v1::Rotation out;
  EXPECT_EQ(ViolatedFields(Create(observe, &out)),
            (std::set<std::string>{"rotation.hands_on.patient_contact",
                                   "rotation.hands_on.note_writing"}));
  // Title length counts characters, not bytes: 200 two-byte letters are fine.
  v1::Rotation accented = ValidRotation("sites/site");
  std::string title;
  for (int i = 0; i < 200; ++i) title += "\xc3\xa9";  // é
  accented.set_title(title);
  EXPECT_TRUE(Create(accented, &out).ok());
  // Several problems are reported together; nothing is stored.
  v1::Rotation bad;
  bad.set_site("sites/site");
  EXPECT_EQ(ViolatedFields(Create(bad, &out)),
            (std::set<std::string>{"rotation.title", "rotation.specialty",
                                   "rotation.experience_type", "rotation.setting",
                                   "rotation.duration_weeks", "rotation.refund_policy"}));
  EXPECT_EQ(redis_server_->Command({"ZCARD", "cat:rots"}), "1");
}

TEST_F(RotationServiceTest, EveryInvalidSessionFieldIsNamed) {
  MakeRotation("rot", ValidRotation("sites/site"));
  struct Case {
    std::string field;
    std::function<void(v1::CreateSessionRequest*)> spoil;
  };
  std::vector<Case> cases = {
      {"parent", [](auto* r) { r->set_parent("rot"); }},
      {"session", [](auto* r) { r->clear_session(); }},
      {"session.start_date", [](auto* r) { r->mutable_session()->set_start_date(""); }},
      {"session.start_date", [](auto* r) { r->mutable_session()->set_start_date("2027-02-30"); }},
      {"session.end_date", [](auto* r) { r->mutable_session()->set_end_date("2027/05/01"); }},
      {"session.end_date", [](auto* r) { r->mutable_session()->set_end_date(DayFromEpoch(29)); }},
      {"session.end_date",
       [](auto* r) { r->mutable_session()->set_end_date(DayFromEpoch(30 + 367)); }},
      {"session.application_deadline",
       [](auto* r) { r->mutable_session()->set_application_deadline(DayFromEpoch(31)); }},
      {"session.application_deadline",
       [](auto* r) { r->mutable_session()->set_application_deadline(""); }},
      {"session.capacity", [](auto* r) { r->mutable_session()->set_capacity(0); }},
      {"session.capacity", [](auto* r) { r->mutable_session()->set_capacity(1001); }},
      {"session_id", [](auto* r) { r->set_session_id("under_score"); }},
      {"request_id", [](auto* r) { r->set_request_id(std::string(65, 'r')); }},
  };
  for (const Case& c : cases) {
    v1::CreateSessionRequest request;
    request.set_parent("rotations/rot");
    *request.mutable_session() = ValidSession(30);
    c.spoil(&request);
    grpc::ClientContext context;
    testing::AsAdmin(&context);
    v1::Session out;
    grpc::Status s = catalog_->CreateSession(&context, request, &out);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.field;
    EXPECT_EQ(ViolatedFields(s), std::set<std::string>{c.field}) << c.field << ": "
                                                                  << s.error_message();
  }
  // A start date of exactly 366 days before the end, and a deadline on the start day, are fine.
  v1::Session edge = ValidSession(30);
  edge.set_end_date(DayFromEpoch(30 + 366));
  edge.set_application_deadline(DayFromEpoch(30));
  MakeSession("rot", "edge", edge);
  EXPECT_EQ(EventsOfType("session.created").size(), 1u);
}

TEST_F(RotationServiceTest, DraftsExistOnlyForThoseWhoManageThem) {
  MakeRotation("draft", ValidRotation("sites/site"));
  MakeSession("draft", "s1", ValidSession(30));
  auto anonymous = [](grpc::ClientContext*) {};
  auto applicant = [](grpc::ClientContext* c) { SetIdentity(c, "applicant", "applicants/1"); };
  auto foreign = [](grpc::ClientContext* c) {
    SetIdentity(c, "coordinator", "coordinators/9", "sites/other");
  };
  auto own = [](grpc::ClientContext* c) {
    SetIdentity(c, "coordinator", "coordinators/1", "sites/site");
  };
  auto service = [](grpc::ClientContext* c) { testing::AsService(c); };
  v1::Rotation out;
  for (auto as : {+anonymous, +applicant, +foreign}) {
    EXPECT_EQ(Get("rotations/draft", &out, as).error_code(), grpc::StatusCode::NOT_FOUND);
    grpc::ClientContext c1, c2;
    as(&c1);
    as(&c2);
    v1::GetSessionRequest get;
    get.set_name("rotations/draft/sessions/s1");
    v1::Session session;
    EXPECT_EQ(catalog_->GetSession(&c1, get, &session).error_code(), grpc::StatusCode::NOT_FOUND);
    v1::ListSessionsRequest list;
    list.set_parent("rotations/draft");
    v1::ListSessionsResponse listed;
    EXPECT_EQ(catalog_->ListSessions(&c2, list, &listed).error_code(),
              grpc::StatusCode::NOT_FOUND);
  }
  for (auto as : {+own, +service, +testing::AsAdmin}) {
    EXPECT_TRUE(Get("rotations/draft", &out, as).ok());
  }
  ASSERT_TRUE(Publish("draft").ok());
  EXPECT_TRUE(Get("rotations/draft", &out, anonymous).ok());
  EXPECT_EQ(List("draft", 10).sessions_size(), 1);
  ASSERT_TRUE(Archive("draft").ok());
  EXPECT_TRUE(Get("rotations/draft", &out, anonymous).ok());
  EXPECT_EQ(out.state(), v1::Rotation::ARCHIVED);

  grpc::Status malformed = Get("rotations/Bad Name", &out);
  EXPECT_EQ(ViolatedFields(malformed), std::set<std::string>{"name"});
  EXPECT_EQ(Get("rotations/missing", &out).error_code(), grpc::StatusCode::NOT_FOUND);
}

// GetRotation and SearchRotations parse their requests themselves (they answer in wire
// form): bytes that are no request are refused as INVALID_ARGUMENT, and the server goes on.
TEST_F(RotationServiceTest, UnparsableReadRequestsAreRefused) {
  grpc::GenericStub generic(channel_);
  const char garbage[] = "\x0a\xff\xff\xff\xff\xff\xff";  // a length past the end
  for (const char* method : {"/clerkship.catalog.v1.CatalogService/GetRotation",
                             "/clerkship.catalog.v1.CatalogService/SearchRotations"}) {
    grpc::ClientContext context;
    grpc::Slice slice(garbage, sizeof(garbage) - 1);
    grpc::ByteBuffer request(&slice, 1), response;
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    grpc::Status status;
    generic.UnaryCall(&context, method, grpc::StubOptions(), &request, &response,
                      [&](grpc::Status s) {
                        std::lock_guard<std::mutex> lock(mu);
                        status = std::move(s);
                        done = true;
                        cv.notify_one();
                      });
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return done; });
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << method;
    EXPECT_THAT(status.error_message(), ::testing::HasSubstr("not a valid")) << method;
  }
  MakeRotation("after", ValidRotation("sites/site"));
  v1::Rotation out;
  EXPECT_TRUE(Get("rotations/after", &out, testing::AsAdmin).ok());
}

TEST_F(RotationServiceTest, CoordinatorsManageOnlyTheirOwnSite) {
  auto as_own = [](grpc::ClientContext* c) {
    SetIdentity(c, "coordinator", "coordinators/1", "sites/site");
  };
  v1::Rotation mine, out;
  {
    grpc::ClientContext c;
    as_own(&c);
    ASSERT_TRUE(CreateAs(&c, ValidRotation("sites/site"), &mine, "mine").ok());
  }
  {
    grpc::ClientContext c;  // another site, even one that does not exist: denied first
    as_own(&c);
    EXPECT_EQ(CreateAs(&c, ValidRotation("sites/other"), &out).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
    grpc::ClientContext c2;
    as_own(&c2);
    EXPECT_EQ(CreateAs(&c2, ValidRotation("sites/ghost"), &out).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }
  {
    grpc::ClientContext c;
    SetIdentity(&c, "applicant", "applicants/1");
    EXPECT_EQ(CreateAs(&c, ValidRotation("sites/site"), &out).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
    grpc::ClientContext c2;
    EXPECT_EQ(CreateAs(&c2, ValidRotation("sites/site"), &out).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
    grpc::ClientContext c3;  // a coordinator without a site runs nothing
    SetIdentity(&c3, "coordinator", "coordinators/1");
    EXPECT_EQ(CreateAs(&c3, ValidRotation("sites/site"), &out).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }
  MakeRotation("theirs", ValidRotation("sites/other"));
  auto foreign_call = [&](auto call) {
    grpc::ClientContext c;
    as_own(&c);
    return call(&c);
  };
  EXPECT_EQ(foreign_call([&](grpc::ClientContext* c) {
              v1::UpdateRotationRequest r;
              r.mutable_rotation()->set_name("rotations/theirs");
              r.mutable_rotation()->set_title("Mine now");
              return catalog_->UpdateRotation(c, r, &out);
            }).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(foreign_call([&](grpc::ClientContext* c) {
              v1::PublishRotationRequest r;
              r.set_name("rotations/theirs");
              return catalog_->PublishRotation(c, r, &out);
            }).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(foreign_call([&](grpc::ClientContext* c) {
              v1::ArchiveRotationRequest r;
              r.set_name("rotations/theirs");
              return catalog_->ArchiveRotation(c, r, &out);
            }).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(foreign_call([&](grpc::ClientContext* c) {
              v1::CreateSessionRequest r;
              r.set_parent("rotations/theirs");
              *r.mutable_session() = ValidSession(30);
              v1::Session s;
              return catalog_->CreateSession(c, r, &s);
            }).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  MakeSession("theirs", "s1", ValidSession(30));
  EXPECT_EQ(foreign_call([&](grpc::ClientContext* c) {
              v1::UpdateSessionRequest r;
              r.mutable_session()->set_name("rotations/theirs/sessions/s1");
              r.mutable_session()->set_capacity(3);
              v1::Session s;
              return catalog_->UpdateSession(c, r, &s);
            }).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);

  // Their own rotation: the whole lifecycle works.
  v1::Session session;
  {
    grpc::ClientContext c;
    as_own(&c);
    v1::CreateSessionRequest r;
    r.set_parent("rotations/mine");
    *r.mutable_session() = ValidSession(30);
    ASSERT_TRUE(catalog_->CreateSession(&c, r, &session).ok());
  }
  {
    grpc::ClientContext c;
    as_own(&c);
    v1::PublishRotationRequest r;
    r.set_name("rotations/mine");
    ASSERT_TRUE(catalog_->PublishRotation(&c, r, &out).ok());
    EXPECT_EQ(out.state(), v1::Rotation::PUBLISHED);
  }
  EXPECT_EQ(Get("rotations/theirs", &out).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(RotationServiceTest, PublishAndArchiveFollowTheStateRules) {
  v1::Rotation created = MakeRotation("rot", ValidRotation("sites/site"));
  v1::Rotation out;
  grpc::Status empty = Publish("rot");
  EXPECT_EQ(empty.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(ReasonOf(empty), "ROTATION_HAS_NO_SESSIONS");
  auto preconditions = PreconditionsOf(empty);
  ASSERT_EQ(preconditions.size(), 1u);
  EXPECT_EQ(preconditions[0].subject, "rotations/rot");

  MakeSession("rot", "s1", ValidSession(30, 4));
  clock_.Advance(absl::Minutes(1));
  v1::Rotation published;
  ASSERT_TRUE(Publish("rot", &published).ok());
  EXPECT_EQ(published.state(), v1::Rotation::PUBLISHED);
  EXPECT_EQ(FromProtoTime(published.publish_time()), clock_.Now());
  EXPECT_NE(published.etag(), created.etag());
  EXPECT_EQ(published.next_start_date(), DayFromEpoch(30));
  EXPECT_EQ(published.seats_available(), 4);

  clock_.Advance(absl::Minutes(1));
  v1::Rotation again;
  ASSERT_TRUE(Publish("rot", &again).ok());  // unchanged
  EXPECT_EQ(again.etag(), published.etag());
  EXPECT_EQ(EventsOfType("rotation.published").size(), 1u);

  // A stale etag is refused, the right one accepted.
  grpc::Status stale = Archive("rot", nullptr, created.etag());
  EXPECT_EQ(stale.error_code(), grpc::StatusCode::ABORTED);
  v1::Rotation archived;
  ASSERT_TRUE(Archive("rot", &archived, published.etag()).ok());
  EXPECT_EQ(archived.state(), v1::Rotation::ARCHIVED);
  EXPECT_EQ(archived.publish_time().seconds(), published.publish_time().seconds());
  ASSERT_TRUE(Archive("rot", &again).ok());  // unchanged
  EXPECT_EQ(again.etag(), archived.etag());
  EXPECT_EQ(EventsOfType("rotation.archived").size(), 1u);

  grpc::Status republish = Publish("rot");
  EXPECT_EQ(republish.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(ReasonOf(republish), "ROTATION_ARCHIVED");
  grpc::ClientContext context;
  testing::AsAdmin(&context);
  v1::CreateSessionRequest more;
  more.set_parent("rotations/rot");
  *more.mutable_session() = ValidSession(60);
  v1::Session session;
  grpc::Status late = catalog_->CreateSession(&context, more, &session);
  EXPECT_EQ(late.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(ReasonOf(late), "ROTATION_ARCHIVED");
  v1::Rotation patch;
  patch.set_name("rotations/rot");
  patch.set_title("Renamed");
  EXPECT_EQ(ReasonOf(Update(patch, {"title"}, &out)), "ROTATION_ARCHIVED");
  v1::Session session_patch;
  session_patch.set_name("rotations/rot/sessions/s1");
  session_patch.set_capacity(9);
  EXPECT_EQ(ReasonOf(UpdateSessionWith(session_patch, {}, &session)), "ROTATION_ARCHIVED");

  std::vector<events::v1::Event> published_events = EventsOfType("rotation.published");
  const auto& change = published_events[0].rotation_published();
  EXPECT_EQ(change.rotation(), "rotations/rot");
  EXPECT_EQ(change.site(), "sites/site");
  EXPECT_EQ(change.state(), "PUBLISHED");
  EXPECT_EQ(change.specialty(), type::v1::INTERNAL_MEDICINE);
  EXPECT_EQ(change.title(), "Inpatient Internal Medicine Clerkship");
  EXPECT_EQ(published_events[0].actor(), "admins/root");
  EXPECT_EQ(EventsOfType("rotation.archived")[0].rotation_archived().state(), "ARCHIVED");
  // Publishing and archiving do not need a session to be open; archived rotations can still
  // be read with their sessions.
  EXPECT_EQ(List("rot", 10).sessions_size(), 1);
}

TEST_F(RotationServiceTest, UpdateAppliesTheMaskAndChecksTheEtag) {
  v1::Rotation created = MakeRotation("rot", ValidRotation("sites/site"));
  MakeSession("rot", "s1", ValidSession(30));
  v1::Rotation out;

  // A single path: only the title changes.
  v1::Rotation patch;
  patch.set_name("rotations/rot");
  patch.set_title("New title");
  patch.set_description("ignored: not in the mask");
  patch.set_etag(created.etag());
  ASSERT_TRUE(Update(patch, {"title"}, &out).ok());
  EXPECT_EQ(out.title(), "New title");
  EXPECT_EQ(out.description(), created.description());
  EXPECT_NE(out.etag(), created.etag());
  std::string etag_after_title = out.etag();

  // The old etag is stale now.
  patch.set_title("Lost update");
  grpc::Status stale = Update(patch, {"title"}, &out);
  EXPECT_EQ(stale.error_code(), grpc::StatusCode::ABORTED);
  EXPECT_EQ(ReasonOf(stale), "ETAG_MISMATCH");

  // A leaf of the fees: the total follows, other components stay.
  v1::Rotation fees;
  fees.set_name("rotations/rot");
  fees.mutable_fees()->set_program_fee_cents(100000);
  ASSERT_TRUE(Update(fees, {"fees.program_fee_cents"}, &out).ok());
  EXPECT_EQ(out.fees().program_fee_cents(), 100000);
  EXPECT_EQ(out.fees().housing_estimate_cents(), 120000);
  EXPECT_EQ(out.fees().total_cents(), 100000 + 10000 + 5000 + 15000 + 120000);
  EXPECT_NE(out.etag(), etag_after_title);

  // No mask: the fields that are set, down to the leaves.
  v1::Rotation implied;
  implied.set_name("rotations/rot");
  implied.mutable_fees()->set_housing_estimate_cents(0);  // unset: not applied
  implied.mutable_fees()->set_background_check_cents(7000);
  implied.set_lor_offered(false);  // default: not applied
  implied.set_stipend_cents(50000);
  ASSERT_TRUE(Update(implied, {}, &out).ok());
  EXPECT_EQ(out.fees().background_check_cents(), 7000);
  EXPECT_EQ(out.fees().housing_estimate_cents(), 120000);
  EXPECT_EQ(out.stipend_cents(), 50000);
  EXPECT_TRUE(out.lor_offered());

  // A whole message path replaces the message; an explicit path can clear a flag.
  v1::Rotation replace;
  replace.set_name("rotations/rot");
  replace.mutable_hands_on()->set_patient_contact(true);
  replace.set_lor_offered(false);
  ASSERT_TRUE(Update(replace, {"hands_on", "lor_offered"}, &out).ok());
  EXPECT_TRUE(out.hands_on().patient_contact());
  EXPECT_FALSE(out.hands_on().emr_access());
  EXPECT_FALSE(out.lor_offered());

  // Bad paths name update_mask; bad values name the field; nothing changes.
  for (std::string path : {"site", "state", "fees.total_cents", "name", "etag", "nonsense",
                           "hands_on.unknown", "next_start_date"}) {
    grpc::Status s = Update(replace, {path}, &out);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << path;
    EXPECT_EQ(ViolatedFields(s), std::set<std::string>{"update_mask"}) << path;
  }
  v1::Rotation invalid;
  invalid.set_name("rotations/rot");
  EXPECT_EQ(ViolatedFields(Update(invalid, {"title", "duration_weeks"}, &out)),
            (std::set<std::string>{"rotation.title", "rotation.duration_weeks"}));
  invalid.set_experience_type(type::v1::OBSERVERSHIP);  // while patient_contact is true
  EXPECT_EQ(ViolatedFields(Update(invalid, {"experience_type"}, &out)),
            std::set<std::string>{"rotation.hands_on.patient_contact"});
  v1::Rotation no_name;
  EXPECT_EQ(ViolatedFields(Update(no_name, {"title"}, &out)),
            std::set<std::string>{"rotation.name"});
  no_name.set_name("rotations/ghost");
  no_name.set_title("x");
  EXPECT_EQ(Update(no_name, {"title"}, &out).error_code(), grpc::StatusCode::NOT_FOUND);

  // Drafts change silently; published rotations announce each change with its paths.
  EXPECT_TRUE(EventsOfType("rotation.updated").empty());
  ASSERT_TRUE(Publish("rot").ok());
  v1::Rotation star;
  star = ValidRotation("sites/site");
  star.set_name("rotations/rot");
  star.set_title("Everything replaced");
  star.clear_description();
  ASSERT_TRUE(Update(star, {"*"}, &out).ok());
  EXPECT_EQ(out.title(), "Everything replaced");
  EXPECT_TRUE(out.description().empty());
  EXPECT_EQ(out.state(), v1::Rotation::PUBLISHED);
  std::vector<events::v1::Event> updated = EventsOfType("rotation.updated");
  ASSERT_EQ(updated.size(), 1u);
  EXPECT_EQ(updated[0].rotation_updated().changed_fields_size(), 15);
  EXPECT_EQ(updated[0].rotation_updated().title(), "Everything replaced");
  EXPECT_EQ(updated[0].rotation_updated().state(), "PUBLISHED");
}

TEST_F(RotationServiceTest, ConcurrentUpdatesWithoutEtagAllLand) {
  MakeRotation("rot", ValidRotation("sites/site"));
  // Ten writers each set a different fee component or field; none may be lost.
  std::vector<std::thread> writers;
  std::atomic<int> failures{0};
  for (int i = 0; i < 10; ++i) {
    writers.emplace_back([&, i] {
      v1::Rotation patch;
      patch.set_name("rotations/rot");
      std::string path;
      if (i == 0) {
        patch.set_stipend_cents(1234);
        path = "stipend_cents";
      } else {
        patch.mutable_hands_on()->set_students_per_preceptor(i);
        patch.set_duration_weeks(i);
        path = i % 2 ? "duration_weeks" : "hands_on.students_per_preceptor";
      }
      v1::Rotation out;
      if (!Update(patch, {path}, &out).ok()) ++failures;
    });
  }
  for (auto& t : writers) t.join();
  EXPECT_EQ(failures.load(), 0);
  v1::Rotation out;
  ASSERT_TRUE(Get("rotations/rot", &out, testing::AsAdmin).ok());
  EXPECT_EQ(out.stipend_cents(), 1234);
  EXPECT_GT(out.duration_weeks(), 0);
}

TEST_F(RotationServiceTest, SessionsUpdateWithMaskAndEtag) {
  MakeRotation("rot", ValidRotation("sites/site"));
  v1::Session created = MakeSession("rot", "s1", ValidSession(30, 5));
  ASSERT_TRUE(Publish("rot").ok());
  ASSERT_TRUE(Hold(created.name(), "applications/a").ok());
  // Seat movements do not change the etag.
  EXPECT_EQ(GetSession(created.name()).etag(), created.etag());

  v1::Session patch;
  patch.set_name(created.name());
  patch.set_etag(created.etag());
  patch.set_start_date(DayFromEpoch(40));
  patch.set_end_date(DayFromEpoch(60));
  v1::Session out;
  ASSERT_TRUE(UpdateSessionWith(patch, {"start_date", "end_date"}, &out).ok());
  EXPECT_EQ(out.start_date(), DayFromEpoch(40));
  EXPECT_EQ(out.application_deadline(), created.application_deadline());
  EXPECT_EQ(out.seats_held(), 1);
  EXPECT_EQ(out.seats_available(), 4);
  EXPECT_NE(out.etag(), created.etag());
  EXPECT_EQ(FromProtoTime(out.update_time()), clock_.Now());

  EXPECT_EQ(ReasonOf(UpdateSessionWith(patch, {"start_date"}, &out)), "ETAG_MISMATCH");
  patch.clear_etag();
  // The date rules are checked on the result.
  v1::Session early;
  early.set_name(created.name());
  early.set_start_date(DayFromEpoch(10));  // before the deadline (day 16)
  EXPECT_EQ(ViolatedFields(UpdateSessionWith(early, {"start_date"}, &out)),
            std::set<std::string>{"session.application_deadline"});
  early.set_start_date(DayFromEpoch(70));  // after the end date (day 60)
  EXPECT_EQ(ViolatedFields(UpdateSessionWith(early, {"start_date"}, &out)),
            std::set<std::string>{"session.end_date"});
  EXPECT_EQ(ViolatedFields(UpdateSessionWith(early, {"created_time"}, &out)),
            std::set<std::string>{"update_mask"});
  EXPECT_EQ(ViolatedFields(UpdateSessionWith(early, {"seats_held"}, &out)),
            std::set<std::string>{"update_mask"});
  v1::Session unnamed;
  EXPECT_EQ(ViolatedFields(UpdateSessionWith(unnamed, {}, &out)),
            std::set<std::string>{"session.name"});

  std::vector<events::v1::Event> updated = EventsOfType("session.updated");
  ASSERT_EQ(updated.size(), 1u);
  const auto& change = updated[0].session_updated();
  EXPECT_EQ(change.session(), created.name());
  EXPECT_EQ(change.rotation(), "rotations/rot");
  EXPECT_EQ(change.site(), "sites/site");
  EXPECT_EQ(change.start_date(), DayFromEpoch(40));
  EXPECT_EQ(change.seats_available(), 4);
  EXPECT_THAT(change.changed_fields(), ElementsAre("start_date", "end_date"));

  std::vector<events::v1::Event> created_events = EventsOfType("session.created");
  ASSERT_EQ(created_events.size(), 1u);
  EXPECT_EQ(created_events[0].session_created().capacity(), 5);
  EXPECT_EQ(created_events[0].session_created().seats_available(), 5);
  EXPECT_EQ(created_events[0].session_created().application_deadline(), DayFromEpoch(16));
}

TEST_F(RotationServiceTest, SessionsListInDateOrderWithLiveSeats) {
  MakeRotation("rot", ValidRotation("sites/site"));
  // Out of order, with two on the same day (then ordered by name) and one already closed.
  MakeSession("rot", "d", ValidSession(90, 3));
  MakeSession("rot", "b", ValidSession(30, 3));
  MakeSession("rot", "a", ValidSession(30, 3));
  MakeSession("rot", "c", ValidSession(60, 3));
  v1::Session closed = ValidSession(5, 3);  // deadline 9 days ago
  closed.set_application_deadline(DayFromEpoch(-9));
  MakeSession("rot", "z", closed);
  ASSERT_TRUE(Publish("rot").ok());
  ASSERT_TRUE(Hold("rotations/rot/sessions/c", "applications/1").ok());
  ASSERT_TRUE(Hold("rotations/rot/sessions/c", "applications/2").ok());

  std::vector<std::string> names;
  std::string token;
  int pages = 0;
  do {
    v1::ListSessionsResponse page = List("rot", 2, token);
    for (const auto& s : page.sessions()) names.push_back(s.name().substr(23));
    token = page.next_page_token();
    ++pages;
  } while (!token.empty() && pages < 10);
  EXPECT_THAT(names, ElementsAre("z", "a", "b", "c", "d"));
  EXPECT_EQ(pages, 3);

  v1::ListSessionsResponse open = List("rot", 10, "", true);
  ASSERT_EQ(open.sessions_size(), 4);
  EXPECT_EQ(open.sessions(0).name(), "rotations/rot/sessions/a");
  const v1::Session& c = open.sessions(2);
  EXPECT_EQ(c.seats_held(), 2);
  EXPECT_EQ(c.seats_available(), 1);
  EXPECT_TRUE(c.accepting_applications());
  EXPECT_FALSE(List("rot", 1).sessions(0).accepting_applications());  // z is closed

  // A token from one listing does not continue another.
  v1::ListSessionsResponse first = List("rot", 2);
  grpc::Status status;
  List("rot", 2, first.next_page_token(), true, &status);
  EXPECT_EQ(ViolatedFields(status), std::set<std::string>{"page_token"});
  List("rot", -1, "", false, &status);
  EXPECT_EQ(ViolatedFields(status), std::set<std::string>{"page_size"});
  List("ghost", 2, "", false, &status);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);

  // The rotation sums the open sessions: 3 + 3 + 1 + 3; the closed one does not count.
  v1::Rotation r;
  ASSERT_TRUE(Get("rotations/rot", &r).ok());
  EXPECT_EQ(r.seats_available(), 10);
  EXPECT_EQ(r.next_start_date(), DayFromEpoch(30));
}

TEST_F(RotationServiceTest, DeadlinesCloseAtMidnightInTheSiteTimeZone) {
  MakeSite("la", SiteIn("Los Angeles", "CA", "America/Los_Angeles"));
  MakeRotation("rot", ValidRotation("sites/la"));
  v1::Session session = ValidSession(30, 2);
  session.set_application_deadline(DayFromEpoch(10));
  MakeSession("rot", "s1", session);
  MakeSession("rot", "s2", ValidSession(60, 5));
  ASSERT_TRUE(Publish("rot").ok());

  // 23:59 on the deadline in Los Angeles is 07:59 UTC the next day.
  absl::TimeZone la;
  ASSERT_TRUE(absl::LoadTimeZone("America/Los_Angeles", &la));
  clock_.Set(absl::FromCivil(absl::CivilMinute(2027, 3, 11, 23, 59), la));
  EXPECT_TRUE(GetSession("rotations/rot/sessions/s1").accepting_applications());
  v1::Rotation r;
  ASSERT_TRUE(Get("rotations/rot", &r).ok());
  EXPECT_EQ(r.next_start_date(), DayFromEpoch(30));
  EXPECT_EQ(r.seats_available(), 7);

  clock_.Set(absl::FromCivil(absl::CivilMinute(2027, 3, 12, 0, 0), la));
  EXPECT_FALSE(GetSession("rotations/rot/sessions/s1").accepting_applications());
  ASSERT_TRUE(Get("rotations/rot", &r).ok());
  EXPECT_EQ(r.next_start_date(), DayFromEpoch(60));
  EXPECT_EQ(r.seats_available(), 5);
}

TEST_F(RotationServiceTest, GetSessionForOtherServices) {
  MakeRotation("rot", ValidRotation("sites/site"));
  MakeSession("rot", "s1", ValidSession(30, 6));
  ASSERT_TRUE(Publish("rot").ok());
  std::string name = "rotations/rot/sessions/s1";
  grpc::ClientContext context;
  SetIdentity(&context, "service", "services/applicant");
  v1::GetSessionRequest request;
  request.set_name(name);
  v1::Session out;
  ASSERT_TRUE(catalog_->GetSession(&context, request, &out).ok());
  EXPECT_EQ(out.name(), name);
  EXPECT_EQ(out.capacity(), 6);
  EXPECT_EQ(out.seats_available(), 6);
  EXPECT_TRUE(out.accepting_applications());
  EXPECT_EQ(out.start_date(), DayFromEpoch(30));

  grpc::ClientContext bad;
  request.set_name("rotations/rot/sessions/");
  EXPECT_EQ(ViolatedFields(catalog_->GetSession(&bad, request, &out)),
            std::set<std::string>{"name"});
  grpc::ClientContext missing;
  request.set_name("rotations/rot/sessions/nope");
  EXPECT_EQ(catalog_->GetSession(&missing, request, &out).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

}  // namespace
}  // namespace clerkship::catalog
