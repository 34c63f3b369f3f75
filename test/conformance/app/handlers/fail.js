// The pre-async style of failing: context.fail, as early Lambda samples wrote it.
exports.handler = function (event, context) {
  context.fail(new Error('failed on purpose'));
};
