exports.handler = async () => {
  throw new Error('boom on purpose');
};
