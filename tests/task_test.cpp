#include "task/task.h"

#include <fstream>
#include <set>

#include <gtest/gtest.h>

#include "common/fs.h"
#include "test_util.h"

namespace evokernel {
namespace {
namespace fs = std::filesystem;

class SuiteDir : public ::testing::Test {
 protected:
  void SetUp() override {
    auto d = MakeTempDir("evk-suite-");
    ASSERT_TRUE(d.ok());
    root_ = std::make_unique<ScopedDir>(*d);
    dir_ = *d / "mysuite";
    fs::create_directories(dir_);
  }
  void Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
  }
  std::unique_ptr<ScopedDir> root_;
  fs::path dir_;
};

TEST_F(SuiteDir, LoadsManifestDefaultsAndPerTaskEntries) {
  Write("a_task.py", "x = 1\n");
  Write("b_task.py", "x = 1\n");
  Write("suite.toml", R"(
name = "mine"
level = 2
description = "d"
[defaults]
atol = 1e-3
rtol = 2e-3
[tasks.a_task]
category = "activation"
rtol = 1e-2
overrides = { batch_size = 8, kernel = [3, 3] }
)");
  auto s = LoadSuite(dir_);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->name, "mine");
  EXPECT_EQ(s->level, 2);
  ASSERT_EQ(s->tasks.size(), 2u);
  const TaskRef& a = s->tasks[0];
  EXPECT_EQ(a.id, "mine/a_task");
  EXPECT_EQ(a.category, "activation");
  EXPECT_DOUBLE_EQ(a.atol, 1e-3);
  EXPECT_DOUBLE_EQ(a.rtol, 1e-2);
  EXPECT_EQ(a.overrides["batch_size"], 8);
  EXPECT_EQ(a.overrides["kernel"], nlohmann::json::array({3, 3}));
  const TaskRef& b = s->tasks[1];
  EXPECT_EQ(b.category, "uncategorised");
  EXPECT_DOUBLE_EQ(b.rtol, 2e-3);
}

TEST_F(SuiteDir, UnknownKeyNamesFileAndLine) {
  Write("a_task.py", "x = 1\n");
  Write("suite.toml", "name = \"s\"\n[tasks.a_task]\ncategory = \"x\"\ntolerance = 3\n");
  auto s = LoadSuite(dir_);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kInvalidTask);
  EXPECT_NE(s.status().message().find("suite.toml:4"), std::string::npos) << s.status().message();
  EXPECT_NE(s.status().message().find("tolerance"), std::string::npos);
}

TEST_F(SuiteDir, EntryWithoutFileIsAnError) {
  Write("a_task.py", "x = 1\n");
  Write("suite.toml", "[tasks.missing]\ncategory = \"x\"\n");
  auto s = LoadSuite(dir_);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("missing.py"), std::string::npos) << s.status().message();
}

TEST_F(SuiteDir, TomlSyntaxErrorNamesLine) {
  Write("a_task.py", "x = 1\n");
  Write("suite.toml", "name = \"s\"\n\n[tasks.a_task\n");
  auto s = LoadSuite(dir_);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("suite.toml:3"), std::string::npos) << s.status().message();
}

TEST_F(SuiteDir, BadToleranceTypeIsAnError) {
  Write("a_task.py", "x = 1\n");
  Write("suite.toml", "[defaults]\natol = \"small\"\n");
  auto s = LoadSuite(dir_);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("'atol' must be a number"), std::string::npos);
}

TEST_F(SuiteDir, ResolveByIdStemAndPath) {
  Write("a_task.py", "x = 1\n");
  fs::path tasks_dir = dir_.parent_path();
  auto by_id = ResolveTask("mysuite/a_task", tasks_dir);
  ASSERT_TRUE(by_id.ok()) << by_id.status().ToString();
  auto by_stem = ResolveTask("a_task", tasks_dir);
  ASSERT_TRUE(by_stem.ok());
  EXPECT_EQ(by_stem->id, "mysuite/a_task");
  auto by_path = ResolveTask((dir_ / "a_task.py").string(), tasks_dir, {{"x", 2}});
  ASSERT_TRUE(by_path.ok()) << by_path.status().ToString();
  EXPECT_EQ(by_path->overrides["x"], 2);
  auto missing = ResolveTask("nope", tasks_dir);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
}

TEST(ParseOverride, ParsesNumbersTuplesBoolsAndStrings) {
  nlohmann::json o = nlohmann::json::object();
  ASSERT_TRUE(ParseOverride("batch_size=8", o).ok());
  ASSERT_TRUE(ParseOverride("eps=1e-5", o).ok());
  ASSERT_TRUE(ParseOverride("kernel=(3, 5)", o).ok());
  ASSERT_TRUE(ParseOverride("bias=False", o).ok());
  ASSERT_TRUE(ParseOverride("mode=nearest", o).ok());
  EXPECT_EQ(o["batch_size"], 8);
  EXPECT_DOUBLE_EQ(o["eps"].get<double>(), 1e-5);
  EXPECT_EQ(o["kernel"], nlohmann::json::array({3, 5}));
  EXPECT_EQ(o["bias"], false);
  EXPECT_EQ(o["mode"], "nearest");
  EXPECT_FALSE(ParseOverride("novalue", o).ok());
  EXPECT_FALSE(ParseOverride("=3", o).ok());
}

// Regression (found by tests/fuzz/fuzz_task): `--set` text that is not UTF-8 was stored, and
// dumping the task for the oracle or a run record then threw (evokernel died in terminate).
TEST(ParseOverride, RejectsTextThatIsNotUtf8) {
  nlohmann::json o = nlohmann::json::object();
  for (const char* bad : {"na\xffme=1", "mode=ne\xc3" "arest", "x=\"\xfe\""}) {
    Status st = ParseOverride(bad, o);
    ASSERT_FALSE(st.ok()) << bad;
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(st.message().find("not valid UTF-8"), std::string::npos) << st.message();
    EXPECT_NO_THROW((void)nlohmann::json(st.message()).dump());  // the message itself is UTF-8
  }
  EXPECT_TRUE(o.empty());
  ASSERT_TRUE(ParseOverride("mode=n\xc3\xa9" "arest", o).ok());  // UTF-8 beyond ASCII is fine
  EXPECT_EQ(o["mode"], "n\xc3\xa9" "arest");
}

// The shipped suites meet the sizes and category coverage the project promises.
TEST(ShippedSuites, CoverEveryCategory) {
  auto suites = LoadSuites(DefaultTasksDir());
  ASSERT_TRUE(suites.ok()) << suites.status().ToString();
  std::map<std::string, const Suite*> by_name;
  for (const auto& s : *suites) by_name[s.name] = &s;
  ASSERT_TRUE(by_name.count("level1") && by_name.count("level2") && by_name.count("level3"));
  EXPECT_GE(by_name["level1"]->tasks.size(), 40u);
  EXPECT_GE(by_name["level2"]->tasks.size(), 25u);
  EXPECT_GE(by_name["level3"]->tasks.size(), 5u);
  std::set<std::string> cats;
  for (const auto& t : by_name["level1"]->tasks) cats.insert(t.category);
  for (const char* c : {"matmul", "activation", "normalization", "pooling", "reduction",
                        "convolution", "loss", "scan", "attention"})
    EXPECT_TRUE(cats.count(c)) << "level1 lacks category " << c;
  for (const auto& s : *suites)
    for (const auto& t : s.tasks) EXPECT_NE(t.category, "uncategorised") << t.id;
}

}  // namespace
}  // namespace evokernel
