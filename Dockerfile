# One image for every role: `switchboard <role>` picks what the container runs.
FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY . .
ENV NODE_ENV=production
ENTRYPOINT ["node", "bin/switchboard.js"]
CMD ["all"]
