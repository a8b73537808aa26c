// Your optimizer, as adamconf drives it in process: PyTorch's AdamW
// (torch.optim.AdamW, single-tensor path) written in plain float loops.
#pragma once

#include <adamconf/implementation.hpp>

class MyAdamW : public adamconf::Implementation {
 public:
  std::string name() const override { return "MyAdamW (examples/gtest)"; }
  adamconf::Capabilities capabilities() const override;
  std::vector<adamconf::RunResult> run(const adamconf::Setup& setup, const std::vector<adamconf::RunCase>& cases) override;
};
