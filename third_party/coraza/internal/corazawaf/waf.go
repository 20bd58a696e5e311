// Copyright 2022 Juan Pablo Tosso and the OWASP Coraza contributors
// SPDX-License-Identifier: Apache-2.0

package corazawaf

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"regexp"
	"slices"
	"strconv"
	gosync "sync"
	"sync/atomic"
	"time"

	"github.com/corazawaf/coraza/v3/debuglog"
	"github.com/corazawaf/coraza/v3/experimental/plugins/plugintypes"
	"github.com/corazawaf/coraza/v3/internal/auditlog"
	"github.com/corazawaf/coraza/v3/internal/environment"
	"github.com/corazawaf/coraza/v3/internal/memoize"
	stringutils "github.com/corazawaf/coraza/v3/internal/strings"
	"github.com/corazawaf/coraza/v3/internal/sync"
	"github.com/corazawaf/coraza/v3/types"
)

var wafIDCounter atomic.Uint64

// Default settings
const (
	// DefaultRequestBodyJsonDepthLimit is the default limit for the depth of JSON objects in the request body
	DefaultRequestBodyJsonDepthLimit = 1024

	// DefaultResponseBodyJsonDepthLimit is the default limit for the depth of JSON objects in the response body
	DefaultResponseBodyJsonDepthLimit = 1024

	// defaultHighestSeverity is the default value for HIGHEST_SEVERITY when no rules
	// with severity have been matched, aligning with ModSecurity behavior:
	// - ModSec v2: apache2/msc_util.c highest_severity initialized to 255
	// - ModSec v3: src/transaction.cc m_highestSeverity initialized to 255
	defaultHighestSeverity = 255
)

// WAF instance is used to store configurations and rules
// Every web application should have a different WAF instance,
// but you can share an instance if you are ok with sharing
// configurations, rules and logging.
// Transactions and SecLang parser requires a WAF instance
// You can use as many WAF instances as you want, and they are
// concurrent safe
// All WAF instance fields are immutable, if you update any
// of them in runtime you might create concurrency issues
type WAF struct {
	txPool sync.Pool

	// tagIndex is RulesWithTag's index (Rampart fork).
	tagIndex atomic.Pointer[ruleTagIndex]

	// timeVars are the last second's TIME variables (setTimeVariables;
	// Rampart fork).
	timeVars atomic.Pointer[timeVars]

	// ruleGroup object, contains all rules and helpers
	Rules RuleGroup

	// If true, transactions will have access to the request body
	RequestBodyAccess bool

	// Request body page file limit
	RequestBodyLimit int64

	// Request body JSON recursive depth limit
	RequestBodyJsonDepthLimit int

	// Request body in memory limit
	requestBodyInMemoryLimit *int64

	// If true, transactions will have access to the response body
	ResponseBodyAccess bool

	// Response body memory limit
	ResponseBodyLimit int64

	// Response body JSON recursive depth limit
	ResponseBodyJsonDepthLimit int

	// Defines if rules are going to be evaluated
	RuleEngine types.RuleEngineStatus

	// Responses will only be loaded if mime is listed here
	ResponseBodyMimeTypes []string

	// Web Application id, apps sharing the same id will share persistent collections
	WebAppID string

	// Add significant rule components to audit log
	ComponentNames []string

	// If true WAF engine will fail when remote rules cannot be loaded
	AbortOnRemoteRulesFail bool

	// Instructs the waf to change the Server response header
	ServerSignature string

	// This directory will be used to store page files
	TmpDir string

	// Sensor ID identifies the sensor in ac cluster
	SensorID string

	// Path to store data files (ex. cache)
	DataDir string

	// UploadKeepFiles controls whether uploaded files are kept after the transaction.
	// On: always keep, Off: always delete (default), RelevantOnly: keep only if log-relevant rules matched (excluding nolog rules).
	UploadKeepFiles types.UploadKeepFilesStatus
	// UploadFileMode instructs the waf to set the file mode for uploaded files
	UploadFileMode fs.FileMode
	// UploadFileLimit is the maximum size of the uploaded file to be stored
	UploadFileLimit int
	// UploadDir is the directory where the uploaded files will be stored
	UploadDir string

	// Request body in memory limit excluding the size of any files being transported in the request.
	// TODO: SecRequestBodyNoFilesLimit directive is retrieving the value, but no logic based on it is implemented. See https://github.com/corazawaf/coraza/issues/896
	RequestBodyNoFilesLimit int64

	RequestBodyLimitAction types.BodyLimitAction

	ResponseBodyLimitAction types.BodyLimitAction

	ArgumentSeparator string

	// ProducerConnector is used by connectors to identify the producer
	// on audit logs, for example, apache-modcoraza
	ProducerConnector string

	// ProducerConnectorVersion is used by connectors to identify the producer
	// version on audit logs
	ProducerConnectorVersion string

	// Used for the debug logger
	Logger debuglog.Logger

	ErrorLogCb func(rule types.MatchedRule)

	// Audit mode status
	AuditEngine types.AuditEngineStatus

	// Array of logging parts to be used
	AuditLogParts types.AuditLogParts

	// Audit log format
	AuditLogFormat string

	// Contains the regular expression for relevant status audit logging
	AuditLogRelevantStatus *regexp.Regexp

	auditLogWriter plugintypes.AuditLogWriter

	// AuditLogWriterConfig is configuration of audit logging, populated by multiple directives and consumed by
	// SecAuditLog.
	AuditLogWriterConfig plugintypes.AuditLogConfig

	auditLogWriterInitialized bool

	// Configures the maximum number of ARGS that will be accepted for processing.
	ArgumentLimit int

	// RxPreFilterEnabled controls whether the @rx operator uses
	// literal pre-filtering. Set by the SecRxPreFilter directive.
	RxPreFilterEnabled bool

	// RecordReuse lets a transaction write its match records (MatchedRule,
	// MatchData) and its MatchedRules list over those of the transaction
	// the pool gave it before (Rampart fork; WAFConfig.WithRecordReuse):
	// they are then valid only until the transaction is closed. So is
	// RESPONSE_BODY, which is then the body buffer's bytes (not a copy).
	RecordReuse bool

	// QuietUnrecorded leaves the matches of quiet rules (Rule.unrecorded)
	// out of MatchedRules (Rampart fork; WAFConfig.WithQuietMatchesUnrecorded).
	QuietUnrecorded bool

	memoizerID uint64
	memoizer   *memoize.Memoizer
	closeOnce  gosync.Once
}

// Options is used to pass options to the WAF instance
type Options struct {
	ID      string
	Context context.Context
}

// NewTransaction Creates a new initialized transaction for this WAF instance
func (w *WAF) NewTransaction() *Transaction {
	return w.newTransaction(Options{
		ID:      stringutils.RandomString(19),
		Context: context.Background(),
	})
}

// NewTransactionWithOptions Creates a new initialized transaction for this WAF
// instance with the provided options
func (w *WAF) NewTransactionWithOptions(opts Options) *Transaction {
	if opts.ID == "" {
		opts.ID = stringutils.RandomString(19)
	}

	if opts.Context == nil {
		opts.Context = context.Background()
	}

	return w.newTransaction(opts)
}

// NewTransactionWithID Creates a new initialized transaction for this WAF instance
// Using the specified ID
func (w *WAF) newTransaction(opts Options) *Transaction {
	tx := w.txPool.Get().(*Transaction)
	tx.id = opts.ID
	tx.context = opts.Context
	// Rampart fork: room for the ~70 rules the CRS matches on a benign
	// request (paranoia-level skips, initialisation, scoring) at once.
	// With record reuse the list and the match records are the previous
	// transaction's, written over (rampart_arena.go).
	if w.RecordReuse && cap(tx.matchedRules) > 0 && cap(tx.matchedRules) <= maxKeptMatchedRules {
		clear(tx.matchedRules)
		tx.matchedRules = tx.matchedRules[:0]
	} else {
		tx.matchedRules = make([]types.MatchedRule, 0, 64)
	}
	tx.arena.reset(w.RecordReuse)
	tx.interruption = nil
	tx.detectionOnlyInterruption = nil
	tx.Logdata = "" // Deprecated, this variable is not used. Logdata for each matched rule is stored in the MatchData field.
	tx.SkipAfter = ""
	tx.skipHint = skipHint{}
	tx.AuditEngine = w.AuditEngine
	tx.AuditLogParts = w.AuditLogParts
	tx.AuditLogFormat = w.AuditLogFormat
	tx.ForceRequestBodyVariable = false
	tx.RequestBodyAccess = w.RequestBodyAccess
	tx.RequestBodyLimit = w.RequestBodyLimit
	tx.ForceResponseBodyVariable = false
	tx.ResponseBodyAccess = w.ResponseBodyAccess
	tx.ResponseBodyLimit = w.ResponseBodyLimit
	tx.RuleEngine = w.RuleEngine
	tx.HashEngine = false
	tx.HashEnforcement = false
	tx.lastPhase = 0
	tx.ruleRemoveByID = nil
	tx.ruleRemoveByIDRanges = nil
	if tx.removalsMade {
		tx.removalIDs = [removalWords]uint64{}
		tx.removalsMade = false
	}
	// Rampart fork: the list is emptied and kept for the next
	// ctl:ruleRemoveTarget* (the CRS runs one on most requests), unless a
	// request made it large.
	if cap(tx.ruleRemoveTargetByID) <= maxKeptTargetRemovals {
		clear(tx.ruleRemoveTargetByID)
		tx.ruleRemoveTargetByID = tx.ruleRemoveTargetByID[:0]
	} else {
		tx.ruleRemoveTargetByID = nil
	}
	tx.Skip = 0
	tx.AllowType = 0
	tx.Capture = false
	// Rampart fork: the map is emptied rather than made again.
	if tx.stopWatches == nil {
		tx.stopWatches = map[types.RulePhase]int64{}
	} else {
		clear(tx.stopWatches)
	}
	tx.WAF = w
	tx.txLog = newTxLogger(w.Logger, tx.id) // Rampart fork: not With
	tx.debugLogger = &tx.txLog
	tx.debugOn = tx.txLog.debugOn
	tx.warnOn = w.Logger.Warn().IsEnabled()
	tx.Timestamp = time.Now().UnixNano()
	tx.audit = false

	// Always non-nil if buffers / collections were already initialized, so we don't do any of them
	// based on the presence of RequestBodyBuffer.
	if tx.requestBodyBuffer == nil {
		// if no requestBodyInMemoryLimit has been set we default to the requestBodyLimit
		requestBodyInMemoryLimit := w.RequestBodyLimit
		if w.requestBodyInMemoryLimit != nil {
			requestBodyInMemoryLimit = *w.requestBodyInMemoryLimit
		}

		tx.requestBodyBuffer = NewBodyBuffer(types.BodyBufferOptions{
			TmpPath:     w.TmpDir,
			MemoryLimit: requestBodyInMemoryLimit,
			Limit:       w.RequestBodyLimit,
		})

		tx.responseBodyBuffer = NewBodyBuffer(types.BodyBufferOptions{
			TmpPath: w.TmpDir,
			// the response body is just buffered in memory. Therefore, Limit and MemoryLimit are equal.
			MemoryLimit: w.ResponseBodyLimit,
			Limit:       w.ResponseBodyLimit,
		})

		tx.variables = *NewTransactionVariables()
		tx.transformationCache = map[transformationKey]transformationValue{}
	}

	// set capture variables
	for i := 0; i <= 10; i++ {
		tx.variables.tx.SetOne(strconv.Itoa(i), "") // Rampart fork: no slice
	}
	tx.txGen, tx.txKeysGen = tx.variables.tx.Gens() // Rampart fork: see runKeyStates

	// Some defaults
	tx.variables.filesCombinedSize.Set("0")
	tx.variables.urlencodedError.Set("0")
	tx.variables.uriParseError.Set("0")
	tx.variables.argumentsLimitReached.Set("0")
	tx.variables.fullRequestLength.Set("0")
	tx.variables.multipartDataAfter.Set("0")
	tx.variables.multipartDuplicatePartHeader.Set("0")
	tx.variables.multipartInvalidQuoting.Set("0")
	tx.variables.outboundDataError.Set("0")
	tx.variables.reqbodyError.Set("0")
	tx.variables.reqbodyProcessorError.Set("0")
	tx.variables.requestBodyLength.Set("0")
	tx.variables.duration.Set("0")
	tx.variables.highestSeverity.Set(strconv.Itoa(defaultHighestSeverity))
	tx.variables.uniqueID.Set(tx.id)
	tx.setTimeVariables()

	tx.debugLogger.Debug().Msg("Transaction started")

	return tx
}

func resolveLogPath(path string) (io.Writer, error) {
	if path == "" {
		return io.Discard, nil
	}

	if path == "/dev/stdout" {
		return os.Stdout, nil
	}

	if path == "/dev/stderr" {
		return os.Stderr, nil
	}

	return os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0666)
}

// SetDebugLogPath sets the path for the debug log
// If the path is empty, the debug log will be disabled
// note: this is not thread safe
func (w *WAF) SetDebugLogPath(path string) error {
	o, err := resolveLogPath(path)
	if err != nil {
		return err
	}

	w.SetDebugLogOutput(o)
	return nil
}

const _1gib = 1073741824

// NewWAF creates a new WAF instance with default variables
func NewWAF() *WAF {
	logger := debuglog.Noop()

	logWriter, err := auditlog.GetWriter("serial")
	if err != nil {
		logger.Error().
			Err(err).
			Msg("error creating serial log writer")
	}

	waf := &WAF{
		// Initializing pool for transactions
		txPool: sync.NewPool(func() any { return new(Transaction) }),
		// These defaults are unavoidable as they are zero values for the variables
		RuleEngine:                 types.RuleEngineOn,
		RequestBodyAccess:          false,
		RequestBodyLimit:           134217728, // Hard limit equal to _1gib
		RequestBodyLimitAction:     types.BodyLimitActionReject,
		RequestBodyJsonDepthLimit:  DefaultRequestBodyJsonDepthLimit,
		ResponseBodyAccess:         false,
		ResponseBodyLimit:          524288, // Hard limit equal to _1gib
		ResponseBodyLimitAction:    types.BodyLimitActionProcessPartial,
		ResponseBodyJsonDepthLimit: DefaultResponseBodyJsonDepthLimit,
		auditLogWriter:             logWriter,
		auditLogWriterInitialized:  false,
		AuditLogWriterConfig:       auditlog.NewConfig(),
		AuditLogParts: types.AuditLogParts{
			types.AuditLogPartRequestHeaders,
			types.AuditLogPartRequestBody,
			types.AuditLogPartResponseHeaders,
			types.AuditLogPartAuditLogTrailer,
		},
		AuditLogFormat:     "Native",
		Logger:             logger,
		ArgumentLimit:      1000,
		RxPreFilterEnabled: defaultRxPreFilterEnabled,
	}

	if environment.HasAccessToFS {
		waf.TmpDir = os.TempDir()
	}

	id := wafIDCounter.Add(1)
	waf.memoizerID = id
	waf.memoizer = memoize.NewMemoizer(id)

	waf.Logger.Debug().Msg("A new WAF instance was created")
	return waf
}

func (w *WAF) SetDebugLogOutput(wr io.Writer) {
	w.Logger = w.Logger.WithOutput(wr)
}

// SetDebugLogLevel changes the debug level of the WAF instance
func (w *WAF) SetDebugLogLevel(lvl debuglog.Level) error {
	if !lvl.Valid() {
		return errors.New("invalid log level")
	}

	w.Logger = w.Logger.WithLevel(lvl)
	return nil
}

// SetAuditLogWriter sets the audit log writer
func (w *WAF) SetAuditLogWriter(alw plugintypes.AuditLogWriter) {
	w.auditLogWriter = alw
}

// AuditLogWriter returns the audit log writer. If the writer is not initialized,
// it will be initialized
func (w *WAF) AuditLogWriter() plugintypes.AuditLogWriter {
	if !w.auditLogWriterInitialized {
		if err := w.auditLogWriter.Init(w.AuditLogWriterConfig); err != nil {
			w.Logger.Error().Err(err).Msg("Failed to initialize audit log")
		}
	}

	return w.auditLogWriter
}

// InitAuditLogWriter initializes the audit log writer. If the writer is already
// initialized, it will return an error as initializing the audit log writer twice
// seems to be a bug.
func (w *WAF) InitAuditLogWriter() error {
	if w.auditLogWriterInitialized {
		return errors.New("audit log writer already initialized")
	}

	if err := w.auditLogWriter.Init(w.AuditLogWriterConfig); err != nil {
		return err
	}

	w.auditLogWriterInitialized = true

	return nil
}

// SetErrorCallback sets the callback function for error logging
// The error callback receives all the error data and some
// helpers to write modsecurity style logs
func (w *WAF) SetErrorCallback(cb func(rule types.MatchedRule)) {
	w.ErrorLogCb = cb
}

func (w *WAF) SetRequestBodyInMemoryLimit(limit int64) {
	w.requestBodyInMemoryLimit = &limit
}

func (w *WAF) RequestBodyInMemoryLimit() *int64 {
	return w.requestBodyInMemoryLimit
}

// Validate validates the waf after all the settings have been set.
func (w *WAF) Validate() error {
	if w.RequestBodyLimit <= 0 {
		return errors.New("request body limit should be bigger than 0")
	}

	if w.RequestBodyLimit > _1gib {
		return errors.New("request body limit should be at most 1GiB")
	}

	if w.requestBodyInMemoryLimit != nil {
		if *w.requestBodyInMemoryLimit <= 0 {
			return errors.New("request body memory limit should be bigger than 0")
		}

		if w.RequestBodyLimit < *w.requestBodyInMemoryLimit {
			return fmt.Errorf("request body limit should be at least the memory limit")
		}
	}

	if w.ResponseBodyLimit <= 0 {
		return errors.New("response body limit should be bigger than 0")
	}

	if w.ResponseBodyLimit > _1gib {
		return errors.New("response body limit should be at most 1GiB")
	}

	if w.ArgumentLimit <= 0 {
		return errors.New("argument limit should be bigger than 0")
	}

	if w.RequestBodyJsonDepthLimit <= 0 {
		return errors.New("request body json depth limit should be bigger than 0")
	}

	if w.ResponseBodyJsonDepthLimit <= 0 {
		return errors.New("response body json depth limit should be bigger than 0")
	}

	if environment.HasAccessToFS {
		if w.UploadKeepFiles != types.UploadKeepFilesOff && w.UploadDir == "" {
			return errors.New("SecUploadDir is required when SecUploadKeepFiles is enabled")
		}
	} else {
		if w.UploadKeepFiles != types.UploadKeepFilesOff {
			return errors.New("SecUploadKeepFiles requires filesystem access, which is not available in this build")
		}
	}

	return nil
}

// Memoizer returns the WAF's memoizer for caching compiled patterns.
func (w *WAF) Memoizer() *memoize.Memoizer {
	return w.memoizer
}

// Close releases cached resources owned by this WAF instance.
// Cached entries shared with other WAF instances remain until all owners release them.
// Transactions already in-flight are unaffected as they hold their own references.
func (w *WAF) Close() error {
	w.closeOnce.Do(func() {
		memoize.Release(w.memoizerID)
	})
	return nil
}

// ruleTagIndex lists, by tag, the positions of the rules holding it, for
// one slice of rules.
type ruleTagIndex struct {
	rules []Rule
	byTag map[string][]int
}

// RulesWithTag returns w.Rules.GetRules() and the positions, ascending, of
// its rules with tag among their Tags_ (Rampart fork: ctl's
// ruleRemoveTargetByTag runs on every request and would otherwise compare
// the tag with every tag of every rule). The index is rebuilt when the
// rules slice is not the one it was made for; rules are not changed in
// place once transactions run.
func (w *WAF) RulesWithTag(tag string) ([]Rule, []int) {
	rules := w.Rules.GetRules()
	idx := w.tagIndex.Load()
	if idx == nil || len(idx.rules) != len(rules) || (len(rules) > 0 && &idx.rules[0] != &rules[0]) {
		idx = &ruleTagIndex{rules: rules, byTag: map[string][]int{}}
		for i := range rules {
			for j, t := range rules[i].Tags_ {
				if !slices.Contains(rules[i].Tags_[:j], t) {
					idx.byTag[t] = append(idx.byTag[t], i)
				}
			}
		}
		w.tagIndex.Store(idx)
	}
	return idx.rules, idx.byTag[tag]
}
